import { closeSync, fstatSync, mkdtempSync, openSync, readSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Client } from '@libsql/client'
import { storedCursor } from '../support/ingest.ts'
import { generateEvents } from '../support/jetstream-events.ts'
import type { JetstreamEvent } from '../support/jetstream-server.ts'

/**
 * `FEEDGEN_RELIABILITY=full` (`npm run test:reliability`) runs every scenario at full size; by
 * default each runs a short profile, so that `npm test` can afford the suite.
 */
export const FULL = process.env.FEEDGEN_RELIABILITY === 'full'

/** `short` in the default profile, `full` in the full one. */
export const sized = <T>(short: T, full: T): T => (FULL ? full : short)

/** The publisher DID the feeds are served under in these tests. */
export const PUBLISHER = 'did:plc:ragtjsm2j2vknwkz3zp4oxrd'

/** Jetstream cursors are µs: the source resumes this far before the committed one. */
export const REWIND_US = 5_000_000

/**
 * A generated stream (see `generateEvents`) of events `stepUs` apart that ends a minute ago, so
 * that however long it is, none of its posts is from the future.
 */
export function pastStream(count: number, seed: number, stepUs = 1000): JetstreamEvent[] {
  const startUs = (Date.now() - 60_000) * 1000 - count * stepUs
  return generateEvents({ count, seed, stepUs, startUs })
}

/** A fresh temp folder. */
export const tempDir = (): string => mkdtempSync(join(tmpdir(), 'feedgen-reliability-'))

/** `feedgen serve` flags for a Jetstream replay into `db`, listening on loopback. */
export function serveArgs(opts: {
  db: string
  jetstreamUrl?: string
  port?: number
  logLevel?: string
  extra?: string[]
}): string[] {
  return [
    'serve',
    ...(opts.jetstreamUrl
      ? ['--source', 'jetstream', '--jetstream-url', opts.jetstreamUrl]
      : ['--source', 'none']),
    '--db',
    opts.db,
    '--port',
    String(opts.port ?? 0),
    '--listen-host',
    '127.0.0.1',
    '--hostname',
    'localhost',
    '--publisher-did',
    PUBLISHER,
    '--log-level',
    opts.logLevel ?? 'warn',
    ...(opts.extra ?? []),
  ]
}

/** Polls `cond` every `intervalMs` until it holds; throws with `what` after `timeoutMs`. */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  what: string,
  { timeoutMs = 60_000, intervalMs = 20 } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`gave up after ${timeoutMs} ms waiting for ${what}`)
    await sleep(intervalMs)
  }
}

/** The committed cursor, or null while there is none (or no table yet: serve migrates it). */
export async function cursorOrNull(client: Client): Promise<number | null> {
  return storedCursor(client).catch(() => null)
}

/** The `q`-quantile (0..1) of `xs`, nearest rank. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return Number.NaN
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[
    Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  ] as number
}

/** One line of figures for the log, prefixed so that they are easy to find in CI output. */
export function report(scenario: string, figures: Record<string, unknown>): void {
  const text = Object.entries(figures)
    .map(([k, v]) => `${k}=${typeof v === 'number' ? Math.round(v * 100) / 100 : String(v)}`)
    .join(' ')
  console.info(`[reliability] ${scenario}: ${text}`)
}

/**
 * Frames of a transaction that a killed writer left in the WAL without its commit frame (SQLite
 * ignores them on recovery). Read from the WAL header's salts, which every frame of the current
 * WAL generation repeats: frames after the last commit frame of that generation are counted.
 */
export function uncommittedWalFrames(walPath: string): number {
  let fd: number
  try {
    fd = openSync(walPath, 'r')
  } catch {
    return 0
  }
  try {
    const size = fstatSync(fd).size
    const header = Buffer.alloc(32)
    if (size < 32 || readSync(fd, header, 0, 32, 0) < 32) return 0
    const pageSize = header.readUInt32BE(8)
    const salt1 = header.readUInt32BE(16)
    const salt2 = header.readUInt32BE(20)
    const frameHeader = Buffer.alloc(24)
    let pending = 0
    for (let at = 32; at + 24 + pageSize <= size; at += 24 + pageSize) {
      readSync(fd, frameHeader, 0, 24, at)
      if (frameHeader.readUInt32BE(8) !== salt1 || frameHeader.readUInt32BE(12) !== salt2) break
      // a commit frame records the database size after the commit; others hold 0
      pending = frameHeader.readUInt32BE(4) === 0 ? pending + 1 : 0
    }
    return pending
  } finally {
    closeSync(fd)
  }
}

/** The value of one series in Prometheus text, 0 when absent: `metric(text, 'x_total', 'reason="a"')` */
export function metric(text: string, name: string, labels = ''): number {
  const series = labels ? `${name}{${labels}}` : name
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1))
  }
  return 0
}
