import { and, desc, eq, type SQL, sql } from 'drizzle-orm'
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
    ...def,
    skeleton: async ({ db, cursor, limit }) =>
      page(await newestInLangs(db, langs, cursor ? decodeCursor(cursor) : null, limit + 1), limit),
  })
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
  const lists = await Promise.all(langs.map((lang) => newestInLang(db, lang, after, n)))
  if (lists.length === 1) return lists[0] ?? []
  const seen = new Set<string>()
  return lists
    .flat()
    .sort((a, b) => b.time - a.time || (a.uri < b.uri ? 1 : a.uri > b.uri ? -1 : 0))
    .filter((p) => !seen.has(p.uri) && seen.add(p.uri))
}

export function newestInLang(db: Db, lang: string, after: FeedPosition | null, n: number) {
  const where: SQL[] = [eq(postLangs.lang, lang)]
  if (after)
    where.push(sql`(${postLangs.indexedAt}, ${postLangs.uri}) < (${after.time}, ${after.uri})`)
  return db
    .select({ time: postLangs.indexedAt, uri: postLangs.uri })
    .from(postLangs)
    .where(and(...where))
    .orderBy(desc(postLangs.indexedAt), desc(postLangs.uri))
    .limit(n)
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
