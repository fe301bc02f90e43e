import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type ServeHooks, serve, serveCommand } from '../../src/cli/serve.ts'
import type { ServeOptions } from '../../src/config.ts'
import type { AppContext } from '../../src/context.ts'

export interface Running extends AsyncDisposable {
  url: string
  port: number
  ctx: AppContext
  stop(): Promise<void>
}

/** A temp libSQL file URL in a fresh folder. */
export function tempDbUrl(): string {
  return `file:${join(mkdtempSync(join(tmpdir(), 'feedgen-test-')), 'feedgen.db')}`
}

/** Parses `args` exactly as `feedgen serve` does, defaults and validation included. */
export function serveOptions(args: string[]): ServeOptions {
  const cmd = serveCommand().action(() => {})
  cmd.parse(args, { from: 'user' })
  return cmd.opts<ServeOptions>()
}

/** Runs the real `serve` in this process on a loopback port until `stop()`. */
export async function startServe(
  args: string[],
  hooks: Omit<ServeHooks, 'onReady'> = {},
): Promise<Running> {
  const ac = new AbortController()
  const opts = serveOptions([
    '--port',
    '0',
    '--listen-host',
    '127.0.0.1',
    '--log-level',
    'warn',
    ...args,
  ])
  let ready!: (r: { ctx: AppContext; port: number }) => void
  const isReady = new Promise<{ ctx: AppContext; port: number }>((resolve) => {
    ready = resolve
  })
  const done = serve(opts, ac.signal, { ...hooks, onReady: ready })
  const { ctx, port } = await Promise.race([
    isReady,
    done.then(() => Promise.reject(new Error('serve ended early'))),
  ])
  const stop = async () => {
    ac.abort('test done')
    await done
  }
  return { url: `http://127.0.0.1:${port}`, port, ctx, stop, [Symbol.asyncDispose]: stop }
}
