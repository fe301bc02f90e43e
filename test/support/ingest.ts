import type { Client } from '@libsql/client'
import { createDb, type DbHandle, migrateDb } from '../../src/db/index.ts'
import { type BatchReport, type IngestConfig, runIngest } from '../../src/ingest/index.ts'
import type { SkipReason } from '../../src/ingest/source.ts'
import { createLogger, type Logger } from '../../src/logger.ts'
import { POST } from './jetstream-events.ts'
import { isEvent, type ReplayFrame } from './jetstream-server.ts'

export const DAY_MS = 86_400_000

export function ingestConfig(urls: string[], over: Partial<IngestConfig> = {}): IngestConfig {
  return {
    source: 'jetstream',
    jetstreamUrls: urls,
    jetstreamCompress: false,
    firehoseUrl: 'ws://127.0.0.1:1',
    channelSize: 10_000,
    batchSize: 2_000,
    batchMs: 50,
    maxPostAgeMs: DAY_MS,
    stallTimeoutMs: 10_000,
    collections: [POST],
    ...over,
  }
}

export interface RunningIngest {
  handle: DbHandle
  /** the newest committed cursor seen by the observer */
  readonly cursor: number | null
  /** the largest channel depth any commit reported */
  readonly peakDepth: number
  readonly batches: number
  /** the cursor of every commit, in order */
  commits: number[]
  skips: Map<SkipReason, number>
  /** resolves once the committed cursor reached `cursor` */
  untilCursor(cursor: number, timeoutMs?: number): Promise<void>
  /** aborts and waits for the last commit; rethrows an ingest failure; idempotent */
  stop(): Promise<void>
}

/** Runs the real `runIngest` in this process against `dbUrl` (migrated first). */
export async function startIngest(
  dbUrl: string,
  config: IngestConfig,
  logger: Logger = createLogger('silent'),
): Promise<RunningIngest> {
  const handle = await createDb(dbUrl)
  await migrateDb(handle.db)
  const ac = new AbortController()
  const skips = new Map<SkipReason, number>()
  const commits: number[] = []
  let cursor: number | null = null
  let peakDepth = 0
  let batches = 0
  let waiters: { cursor: number; resolve: () => void }[] = []
  let failure: unknown = null
  let stopped: Promise<void> | undefined
  const done = runIngest(
    {
      db: handle.db,
      logger,
      observer: {
        skipped: (reason) => skips.set(reason, (skips.get(reason) ?? 0) + 1),
        committed: (b: BatchReport) => {
          cursor = b.cursor
          commits.push(b.cursor)
          batches++
          peakDepth = Math.max(peakDepth, b.peakDepth)
          const reached = waiters.filter((w) => b.cursor >= w.cursor)
          waiters = waiters.filter((w) => b.cursor < w.cursor)
          for (const w of reached) w.resolve()
        },
      },
    },
    config,
    ac.signal,
  ).catch((err: unknown) => {
    failure = err
  })
  return {
    handle,
    skips,
    commits,
    get cursor() {
      return cursor
    },
    get peakDepth() {
      return peakDepth
    },
    get batches() {
      return batches
    },
    untilCursor(target, timeoutMs = 60_000) {
      if (cursor !== null && cursor >= target) return Promise.resolve()
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`cursor ${cursor} did not reach ${target} in ${timeoutMs} ms`)),
          timeoutMs,
        )
        waiters.push({
          cursor: target,
          resolve: () => {
            clearTimeout(timer)
            resolve()
          },
        })
      })
    },
    stop() {
      stopped ??= (async () => {
        ac.abort()
        await done
        handle.close()
        if (failure) throw failure
      })()
      return stopped
    },
  }
}

/** The `time_us` of the last frame a server sends to a client that wants only posts. */
export function lastPostStreamCursor(frames: readonly ReplayFrame[]): number {
  for (let i = frames.length - 1; i >= 0; i--) {
    const f = frames[i]
    if (!isEvent(f)) continue
    if (f.kind !== 'commit' || f.commit?.collection === POST) return f.time_us
  }
  throw new Error('no event in the stream')
}

/** What `compareWithSource` reports when the database matches the source exactly. */
export const CLEAN = { missingCount: 0, extraCount: 0, duplicateLangRows: 0, orphanLangRows: 0 }

/** What differs between the stored posts and `expected`, plus duplicate and orphan checks. */
export async function compareWithSource(client: Client, expected: Set<string>) {
  const rs = await client.execute('SELECT uri FROM posts')
  const stored = new Set(rs.rows.map((r) => String(r.uri)))
  const missing = [...expected].filter((u) => !stored.has(u))
  const extra = [...stored].filter((u) => !expected.has(u))
  const dupLangs = await client.execute(
    'SELECT count(*) AS n FROM (SELECT 1 FROM post_langs GROUP BY lang, uri HAVING count(*) > 1)',
  )
  const orphans = await client.execute(
    'SELECT count(*) AS n FROM post_langs l WHERE NOT EXISTS (SELECT 1 FROM posts p WHERE p.uri = l.uri)',
  )
  return {
    stored: stored.size,
    missing: missing.slice(0, 5),
    missingCount: missing.length,
    extra: extra.slice(0, 5),
    extraCount: extra.length,
    duplicateLangRows: Number(dupLangs.rows[0]?.n),
    orphanLangRows: Number(orphans.rows[0]?.n),
  }
}

/** The committed cursor for `key`, read straight from the table. */
export async function storedCursor(client: Client, key = 'jetstream'): Promise<number | null> {
  const rs = await client.execute({
    sql: 'SELECT cursor FROM cursors WHERE source = ?',
    args: [key],
  })
  const row = rs.rows[0]
  return row ? Number(row.cursor) : null
}
