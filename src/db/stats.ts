import { statSync } from 'node:fs'
import type { Client } from '@libsql/client'
import { sql } from 'drizzle-orm'
import type { FeedModule } from '../feeds/feed.ts'
import type { FeedRegistry } from '../feeds/registry.ts'
import type { Db } from './index.ts'
import { cursors } from './schema.ts'

/**
 * What is in the database, for `feedgen stats` (exact, offline) and the status page (bounded:
 * every query there is an index range count with a limit, or a single index lookup).
 */

/** Size of a file in bytes, 0 when it does not exist (a WAL after a clean close). */
export function fileBytes(path: string): number {
  try {
    return statSync(path).size
  } catch {
    return 0
  }
}

export interface StorageStats {
  /** pages in use or free, times the page size: the main file once the WAL is checkpointed */
  bytes: number
  pageSize: number
  pages: number
  /** free pages, reused before the file grows; incremental vacuum hands them back */
  freePages: number
  autoVacuum: 'none' | 'full' | 'incremental'
}

export async function storageStats(client: Client): Promise<StorageStats> {
  const read = async (name: string) =>
    Number((await client.execute(`PRAGMA ${name}`)).rows[0]?.[0] ?? 0)
  const pageSize = await read('page_size')
  const pages = await read('page_count')
  const mode = await read('auto_vacuum')
  return {
    bytes: pages * pageSize,
    pageSize,
    pages,
    freePages: await read('freelist_count'),
    autoVacuum: mode === 1 ? 'full' : mode === 2 ? 'incremental' : 'none',
  }
}

export interface CursorState {
  /** `jetstream`, or `firehose:<url>` */
  source: string
  cursor: number
  /** the network time the cursor stands for (ms), where it is a time (Jetstream's time_us) */
  time: number | null
  /** when it was last committed (ms) */
  updatedAt: number
}

export async function cursorStates(db: Db): Promise<CursorState[]> {
  const rows = await db.select().from(cursors).orderBy(cursors.source)
  return rows.map((r) => ({
    source: r.source,
    cursor: r.cursor,
    time: r.source === 'jetstream' ? Math.floor(r.cursor / 1000) : null,
    updatedAt: r.updatedAt,
  }))
}

export interface PostCount {
  count: number
  /** false when the count stopped at the limit and `count` is estimated from the rowid range */
  exact: boolean
}

/**
 * Posts stored (at or after `since`, ms). With `limit`, counting stops there and a larger table
 * is estimated from its rowid range (deleted posts leave gaps, so it is a little high).
 */
export async function countPosts(
  db: Db,
  opts: { since?: number; limit?: number } = {},
): Promise<PostCount> {
  const since = opts.since ?? 0
  const bounded = opts.limit === undefined ? sql`` : sql`LIMIT ${opts.limit}`
  const row = await db.get<{ n: number }>(
    sql`SELECT count(*) AS n FROM (SELECT 1 FROM posts WHERE indexed_at >= ${since} ${bounded})`,
  )
  const count = Number(row?.n ?? 0)
  if (opts.limit === undefined || count < opts.limit) return { count, exact: true }
  // rowids grow in the order posts are stored: two index lookups
  const range = await db.get<{ n: number }>(
    sql`SELECT (SELECT max(rowid) FROM posts) - (SELECT rowid FROM posts WHERE indexed_at >= ${since}
      ORDER BY indexed_at, rowid LIMIT 1) + 1 AS n`,
  )
  return { count: Math.max(count, Number(range?.n ?? 0)), exact: false }
}

/** The newest and oldest stored times (ms), by the indexed_at index. */
export async function postTimeRange(
  db: Db,
): Promise<{ oldest: number | null; newest: number | null }> {
  const row = await db.get<{ oldest: number | null; newest: number | null }>(
    sql`SELECT (SELECT min(indexed_at) FROM posts) AS oldest, (SELECT max(indexed_at) FROM posts) AS newest`,
  )
  return {
    oldest: row?.oldest == null ? null : Number(row.oldest),
    newest: row?.newest == null ? null : Number(row.newest),
  }
}

export interface LanguageCount {
  lang: string
  total: number
  /** posts stored at or after the `since` given */
  recent: number
}

/** Posts per language, in one pass over the language index: for the offline `feedgen stats`. */
export async function countByLanguage(db: Db, since: number): Promise<LanguageCount[]> {
  const rows = await db.all<{ lang: string; total: number; recent: number }>(
    sql`SELECT lang, count(*) AS total, coalesce(sum(indexed_at >= ${since}), 0) AS recent
      FROM post_langs GROUP BY lang ORDER BY total DESC, lang`,
  )
  return rows.map((r) => ({ lang: r.lang, total: Number(r.total), recent: Number(r.recent) }))
}

export interface FeedCount {
  id: string
  /** null when the feed has no `count` */
  count: number | null
  /** false when counting stopped at the limit: there are at least `count` */
  exact: boolean
}

/** A feed's post count through its own `count`. */
export async function countFeed(
  db: Db,
  feed: FeedModule,
  opts: { since?: number; limit?: number } = {},
): Promise<FeedCount> {
  const count = feed.count ? await feed.count({ db, ...opts }) : null
  return {
    id: feed.id,
    count,
    exact: count === null || opts.limit === undefined || count < opts.limit,
  }
}

/** Each feed's post count, one after another. */
export async function countFeeds(
  db: Db,
  feeds: FeedRegistry,
  opts: { since?: number; limit?: number } = {},
): Promise<FeedCount[]> {
  const out: FeedCount[] = []
  for (const feed of feeds.values()) out.push(await countFeed(db, feed, opts))
  return out
}
