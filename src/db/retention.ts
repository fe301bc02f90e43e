import { setTimeout as sleep, setImmediate as yieldToLoop } from 'node:timers/promises'
import type { Client } from '@libsql/client'
import type { Logger } from '../logger.ts'

/**
 * Retention: posts stored (by `indexed_at`) before a cutoff go, with their language rows, in small
 * transactions. A local libSQL call holds the event loop while it runs, so each transaction is
 * kept short and the loop is yielded between them: feed requests and the writer's batches get in
 * between, and another process (a `feedgen prune` beside `serve`) waits at most one batch.
 *
 * Space: a database created by feedgen uses `auto_vacuum = INCREMENTAL` (src/db/index.ts), and
 * after deleting, the pages set free are handed back to the filesystem by `incremental_vacuum`
 * in small steps, so the file follows the retained data instead of its high-water mark. A file
 * created without it still reuses its free pages (it stops growing once the retention window is
 * full); `vacuumFull` converts it.
 */

/** posts per delete transaction */
export const PRUNE_BATCH = 1000
/** pages (4 KiB each by default) handed back per vacuum step */
const VACUUM_STEP_PAGES = 512
/** how often `serve` prunes: small and often is gentler than large and rare */
export const PRUNE_INTERVAL_MS = 60_000

// Both statements pick the same posts: the oldest before the cutoff, in index order. The
// language rows go first, while the posts still name them.
const DELETE_LANGS = `DELETE FROM post_langs WHERE uri IN
  (SELECT uri FROM posts WHERE indexed_at < ?1 ORDER BY indexed_at, rowid LIMIT ?2)`
const DELETE_POSTS = `DELETE FROM posts WHERE rowid IN
  (SELECT rowid FROM posts WHERE indexed_at < ?1 ORDER BY indexed_at, rowid LIMIT ?2)`

export interface PruneResult {
  /** posts stored before this time (ms since the epoch) were removed */
  cutoff: number
  posts: number
  langs: number
  /** bytes handed back to the filesystem by incremental vacuum */
  freedBytes: number
  durationMs: number
}

export interface PruneOptions {
  /** remove posts whose `indexed_at` (ms) is before this */
  cutoff: number
  /** posts per transaction @default PRUNE_BATCH */
  batchSize?: number
  /** stops between two transactions; what was removed so far stays removed */
  signal?: AbortSignal
  /**
   * Rest after each transaction as long as it took: a long prune (catching up after a restart or
   * a shorter retention) then takes at most half of the process's time from the requests it
   * serves. For a prune in the serving process.
   */
  gentle?: boolean
}

/** Removes the posts stored before `cutoff` and their language rows, then returns free space. */
export async function prune(client: Client, opts: PruneOptions): Promise<PruneResult> {
  const started = performance.now()
  const batchSize = opts.batchSize ?? PRUNE_BATCH
  const result: PruneResult = {
    cutoff: opts.cutoff,
    posts: 0,
    langs: 0,
    freedBytes: 0,
    durationMs: 0,
  }
  for (;;) {
    const args = [opts.cutoff, batchSize]
    const batchStarted = performance.now()
    const [langs, posts] = await client.batch(
      [
        { sql: DELETE_LANGS, args },
        { sql: DELETE_POSTS, args },
      ],
      'write',
    )
    result.langs += langs?.rowsAffected ?? 0
    result.posts += posts?.rowsAffected ?? 0
    if ((posts?.rowsAffected ?? 0) < batchSize || opts.signal?.aborted) break
    if (opts.gentle) await sleep(performance.now() - batchStarted)
    else await yieldToLoop()
  }
  if (result.posts > 0) result.freedBytes = await returnFreePages(client, opts.signal)
  result.durationMs = Math.round(performance.now() - started)
  return result
}

/**
 * `incremental_vacuum` in steps, until no free page is left (or `signal` aborts). A no-op for a
 * file without incremental auto-vacuum. Returns the bytes the file shrank by.
 */
export async function returnFreePages(client: Client, signal?: AbortSignal): Promise<number> {
  if ((await pragma(client, 'auto_vacuum')) !== 2) return 0
  const pageSize = await pragma(client, 'page_size')
  const before = await pragma(client, 'page_count')
  for (;;) {
    const free = await pragma(client, 'freelist_count')
    if (free === 0 || signal?.aborted) break
    // as a script: a prepared `incremental_vacuum` frees one page per step, and the client's
    // execute() would stop after the first one and leave the statement open
    await client.executeMultiple(`PRAGMA incremental_vacuum(${Math.min(free, VACUUM_STEP_PAGES)})`)
    await yieldToLoop()
  }
  // the main file is cut when the WAL is checkpointed: now rather than at the writer's next
  // automatic checkpoint (the same work either way); PASSIVE never waits for a reader
  await client.execute('PRAGMA wal_checkpoint(PASSIVE)')
  return (before - (await pragma(client, 'page_count'))) * pageSize
}

/**
 * Rewrites the whole file (VACUUM) with incremental auto-vacuum on. For a database created before
 * feedgen set it; holds the write lock for the whole rewrite and needs free disk the file's size.
 */
export async function vacuumFull(client: Client): Promise<void> {
  await client.execute('PRAGMA auto_vacuum = INCREMENTAL')
  await client.execute('VACUUM')
  await client.execute('PRAGMA wal_checkpoint(TRUNCATE)')
}

async function pragma(client: Client, name: string): Promise<number> {
  const rs = await client.execute(`PRAGMA ${name}`)
  return Number(rs.rows[0]?.[0] ?? 0)
}

export interface RetentionOptions {
  /** posts older than this (ms, by `indexed_at`) are pruned */
  retentionMs: number
  /** @default min(PRUNE_INTERVAL_MS, retentionMs) */
  intervalMs?: number
  logger: Logger
  /** after every run */
  onPrune?(result: PruneResult): void
}

/**
 * The background pruning of a process that ingests: one run at start, then one per interval, until
 * `signal` aborts. A failed run is logged and the next one tries again; it never stops ingest.
 */
export async function runRetention(
  client: Client,
  opts: RetentionOptions,
  signal: AbortSignal,
): Promise<void> {
  const log = opts.logger.child({ component: 'retention' })
  const intervalMs = opts.intervalMs ?? Math.min(PRUNE_INTERVAL_MS, opts.retentionMs)
  log.info({ retentionMs: opts.retentionMs, intervalMs }, 'retention: pruning in the background')
  while (!signal.aborted) {
    try {
      const result = await prune(client, {
        cutoff: Date.now() - opts.retentionMs,
        signal,
        gentle: true,
      })
      opts.onPrune?.(result)
      if (result.posts > 0) log.info(result, 'retention: pruned old posts')
    } catch (err) {
      log.error({ err }, 'retention: prune failed; trying again at the next interval')
    }
    await sleep(intervalMs, undefined, { signal }).catch(() => undefined)
  }
}
