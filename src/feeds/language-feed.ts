import { and, desc, eq, gte, inArray, type SQL, sql } from 'drizzle-orm'
import type { Db } from '../db/index.ts'
import { postLangs } from '../db/schema.ts'
import { decodeCursor, encodeCursor, type FeedPosition } from './cursor.ts'
import { defineFeed, type FeedDefinition, type FeedModule, type SkeletonPage } from './feed.ts'

export interface LanguageFeedOptions extends Omit<FeedDefinition, 'skeleton' | 'needs'> {
  /**
   * BCP-47 primary tags as stored by ingest (`en`, `sv`, `da`, `nb`, `nn`, ...). `no` matches
   * every Norwegian post: Bokmål, Nynorsk, and posts only declared as `no`.
   */
  langs: string[]
}

/**
 * A feed of every post in the given languages, newest first.
 *
 * @example
 * export const swedish = languageFeed({ id: 'swedish', displayName: 'Svenska',
 *   description: 'Alla inlägg på svenska', langs: ['sv'] })
 */
export function languageFeed(opts: LanguageFeedOptions): FeedModule {
  const { langs, ...def } = opts
  if (langs.length === 0) throw new Error(`feed ${opts.id}: langs is empty`)
  return defineFeed({
    cacheFirstPage: true,
    usesViewer: false,
    ...def,
    skeleton: async ({ db, cursor, limit }) =>
      page(await newestInLangs(db, langs, cursor ? decodeCursor(cursor) : null, limit + 1), limit),
    count: ({ db, since, limit }) => countInLangs(db, langs, since, limit),
  })
}

/** Posts in any of `langs`, each once: index range scans on (lang, indexed_at), stopped at `limit`. */
export async function countInLangs(
  db: Db,
  langs: string[],
  since = 0,
  limit?: number,
): Promise<number> {
  // a post is in several of the ranges only when the feed has several languages
  const uris = langs.length > 1 ? sql`SELECT DISTINCT uri` : sql`SELECT uri`
  const row = await db.get<{ n: number }>(sql`SELECT count(*) AS n FROM (${uris} FROM ${postLangs}
    WHERE ${inArray(postLangs.lang, langs)} AND ${gte(postLangs.indexedAt, since)}
    ${limit === undefined ? sql`` : sql`LIMIT ${limit}`})`)
  return Number(row?.n ?? 0)
}

/**
 * Each language is one index range scan on (lang, indexed_at, uri); several are merged here, so
 * no query needs a sort.
 */
async function newestInLangs(
  db: Db,
  langs: string[],
  after: FeedPosition | null,
  n: number,
): Promise<FeedPosition[]> {
  const lists = await Promise.all(langs.map((lang) => runNewestInLang(db, lang, after, n)))
  if (lists.length === 1) return lists[0] ?? []
  const seen = new Set<string>()
  return lists
    .flat()
    .sort(newestFirst)
    .filter((p) => !seen.has(p.uri) && seen.add(p.uri))
}

/**
 * The newest `n` posts in `lang` after `after`, as one row: their times and URIs as two JSON
 * arrays, newest first. One index range scan on (lang, indexed_at, uri), no sort of the index;
 * one row because the driver's per-row work costs more than the scan (bench/README.md).
 */
export function newestInLang(db: Db, lang: string, after: FeedPosition | null, n: number) {
  const where: SQL[] = [eq(postLangs.lang, lang)]
  if (after)
    where.push(sql`(${postLangs.indexedAt}, ${postLangs.uri}) < (${after.time}, ${after.uri})`)
  const page = db
    .select({ time: postLangs.indexedAt, uri: postLangs.uri })
    .from(postLangs)
    .where(and(...where))
    .orderBy(desc(postLangs.indexedAt), desc(postLangs.uri))
    .limit(n)
    .as('page')
  // Both aggregates step over the same rows together, so times[i] belongs to uris[i]. Their
  // order is the subquery's in practice, but SQL does not promise it: the caller sorts (a pass
  // over sorted input). An ORDER BY in each aggregate would promise it at twice the query's cost.
  return db
    .select({
      times: sql<string>`json_group_array(${page.time})`,
      uris: sql<string>`json_group_array(${page.uri})`,
    })
    .from(page)
}

// newestInLang's SQL, built by drizzle once per database and shape and then run as a kept
// statement (`db.$readRow`): drizzle's and the client's per-call work cost more than the query
// itself (bench/README.md). Sentinel values tell where each parameter lands.
const LANG = '\u0000lang'
const AT = { time: -1, uri: '\u0000uri' }
const N = 2_147_483_641
const compiled = new WeakMap<Db, Map<boolean, { sql: string; order: unknown[] }>>()

async function runNewestInLang(
  db: Db,
  lang: string,
  after: FeedPosition | null,
  n: number,
): Promise<FeedPosition[]> {
  let shapes = compiled.get(db)
  if (!shapes) {
    shapes = new Map()
    compiled.set(db, shapes)
  }
  let query = shapes.get(after !== null)
  if (!query) {
    const q = newestInLang(db, LANG, after && AT, N).toSQL()
    query = { sql: q.sql, order: q.params }
    shapes.set(after !== null, query)
  }
  const values = new Map<unknown, string | number>([
    [LANG, lang],
    [AT.time, after?.time ?? 0],
    [AT.uri, after?.uri ?? ''],
    [N, n],
  ])
  const args = query.order.map((p) => values.get(p) ?? 0)
  const [times, uris] = (await db.$readRow(query.sql, args)) ?? []
  const t = JSON.parse(String(times ?? '[]')) as number[]
  return (JSON.parse(String(uris ?? '[]')) as string[])
    .map((uri, i) => ({ time: t[i] ?? 0, uri }))
    .sort(newestFirst)
}

/** The feed's order: newest first, ties by URI, as the index (lang, indexed_at, uri) runs. */
function newestFirst(a: FeedPosition, b: FeedPosition): number {
  return b.time - a.time || (a.uri < b.uri ? 1 : a.uri > b.uri ? -1 : 0)
}

/** Cuts `limit` items from `limit + 1` fetched; a cursor only when more remain. */
function page(items: FeedPosition[], limit: number): SkeletonPage {
  const feed = items.slice(0, limit)
  const last = feed.at(-1)
  return {
    feed: feed.map((p) => ({ post: p.uri })),
    ...(items.length > limit && last ? { cursor: encodeCursor(last) } : {}),
  }
}
