import { type ChildProcess, execFileSync, fork, spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { StreamOptions } from './workload.ts'

/** The repository root, for spawning `src/cli/main.ts` and bench children. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url))

/** Linux's USER_HZ: /proc reports CPU time in these ticks. */
const TICKS_PER_S = 100

export interface ProcStats {
  /** user + system CPU time so far, all threads (s) */
  cpuS: number
  rssBytes: number
  /** the highest RSS so far (VmHWM) */
  peakRssBytes: number
}

/** CPU time and memory of a process, read from /proc (Linux only). */
export function procStats(pid: number): ProcStats {
  // the command name may hold spaces: fields are counted from the closing parenthesis
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const cpuTicks = Number(fields[11]) + Number(fields[12])
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0)
  return {
    cpuS: cpuTicks / TICKS_PER_S,
    rssBytes: kb('VmRSS') * 1024,
    peakRssBytes: kb('VmHWM') * 1024,
  }
}

/** Samples a process's RSS on a timer: its peak and its median over the samples. */
export function sampleRss(
  pid: number,
  everyMs = 100,
): { stop(): { peak: number; median: number } } {
  const samples: number[] = []
  const take = () => {
    try {
      samples.push(procStats(pid).rssBytes)
    } catch {
      // the process has exited
    }
  }
  take()
  const timer = setInterval(take, everyMs)
  return {
    stop() {
      clearInterval(timer)
      take()
      const sorted = [...samples].sort((a, b) => a - b)
      return {
        peak: sorted.at(-1) ?? 0,
        median: sorted[Math.floor(sorted.length / 2)] ?? 0,
      }
    },
  }
}

export interface Child<M> extends AsyncDisposable {
  process: ChildProcess
  pid: number
  /** the first message the child sent */
  ready: M
  /** resolves with the next message that satisfies `test` */
  message<T>(test: (m: unknown) => m is T): Promise<T>
  /** SIGTERM, then waits for the exit (SIGKILL after `graceMs`) */
  stop(graceMs?: number): Promise<number | null>
}

/** Forks a TypeScript module of the bench with IPC and waits for its first message. */
export async function forkChild<M>(
  script: string,
  args: string[] = [],
  opts: { execArgv?: string[] } = {},
): Promise<Child<M>> {
  const child = fork(script, args, { execArgv: opts.execArgv ?? [], stdio: 'inherit' })
  return adopt<M>(child, async () => {
    const [first] = (await Promise.race([
      once(child, 'message'),
      once(child, 'exit').then(([code]) => {
        throw new Error(`${script} exited with ${code} before it was ready`)
      }),
    ])) as [M]
    return first
  })
}

/** The published entry point, as operators run it: the compiled CLI (see `build`). */
export const CLI = `${ROOT}bin/feedgen.js`

let built = false

/** Compiles src/ to dist/ (`npm run build`, once), so that the published entry runs this code. */
export function build(): void {
  if (built) return
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' })
  built = true
}

const SHEBANG = (readFileSync(`${ROOT}bin/feedgen.js`, 'utf8').split('\n')[0] ?? '').split(/\s+/)

/** The V8 flags `feedgen` runs with: those of bin/feedgen.js's shebang (`env -S node <flags>`). */
export const FEEDGEN_NODE_FLAGS = SHEBANG.filter((arg) => arg.startsWith('--'))

/** The environment the shebang sets (`env -S NAME=value node ...`). */
const FEEDGEN_ENV = Object.fromEntries(
  SHEBANG.filter((arg) => /^[A-Z_]+=/.test(arg)).map(
    (arg) => arg.split('=', 2) as [string, string],
  ),
)

/**
 * Runs `node <flags> <entry> <args>` (the real CLI, or a bench entry that calls `serve`, with
 * the V8 flags and environment bin/feedgen.js runs it with) and waits for its log line that carries `port` (serve's "serving on ..."). Its other output is dropped.
 */
export async function spawnServe(
  entry: string,
  args: string[],
  opts: { execArgv?: string[] } = {},
): Promise<Child<{ port: number }>> {
  const flags = [...FEEDGEN_NODE_FLAGS, ...(opts.execArgv ?? [])]
  const child = spawn(process.execPath, [...flags, entry, ...args], {
    env: { ...process.env, ...FEEDGEN_ENV },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString()
  })
  return adopt(
    child,
    () =>
      new Promise<{ port: number }>((resolve, reject) => {
        let buffered = ''
        const onData = (d: Buffer) => {
          buffered += d.toString()
          for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n')) {
            const line = buffered.slice(0, nl)
            buffered = buffered.slice(nl + 1)
            const port = parsePort(line)
            if (port !== null) {
              child.stdout?.off('data', onData)
              child.stdout?.resume()
              resolve({ port })
              return
            }
          }
        }
        child.stdout?.on('data', onData)
        child.once('exit', (code) =>
          reject(new Error(`${entry} exited with ${code} before it was ready: ${stderr}`)),
        )
      }),
  )
}

function parsePort(line: string): number | null {
  try {
    const entry = JSON.parse(line) as { port?: unknown }
    return typeof entry.port === 'number' ? entry.port : null
  } catch {
    return null
  }
}

async function adopt<M>(child: ChildProcess, ready: () => Promise<M>): Promise<Child<M>> {
  const exited = once(child, 'exit').then(([code]) => code as number | null)
  let first: M
  try {
    first = await ready()
  } catch (err) {
    child.kill('SIGKILL')
    throw err
  }
  const stop = async (graceMs = 10_000) => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
    const code = await exited
    clearTimeout(timer)
    return code
  }
  return {
    process: child,
    pid: child.pid as number,
    ready: first,
    message: <T>(test: (m: unknown) => m is T) =>
      new Promise<T>((resolve) => {
        const on = (m: unknown) => {
          if (!test(m)) return
          child.off('message', on)
          resolve(m)
        }
        child.on('message', on)
      }),
    stop,
    [Symbol.asyncDispose]: async () => {
      await stop()
    },
  }
}

/** Starts bench/support/replay-server.ts with `options` (see `ReplayOptions` there). */
export function startReplay(options: {
  stream: StreamOptions
  paced?: boolean
}): Promise<Child<{ url: string }>> {
  return forkChild<{ url: string }>(`${ROOT}bench/support/replay-server.ts`, [
    JSON.stringify(options),
  ])
}
