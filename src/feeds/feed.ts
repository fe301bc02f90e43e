import type { Db } from '../db/index.ts'

/** One entry of a feed page, as `app.bsky.feed.defs#skeletonFeedPost`. */
export interface SkeletonItem {
  post: string
  reason?: { $type: 'app.bsky.feed.defs#skeletonReasonRepost'; repost: string }
  feedContext?: string
}

export interface SkeletonPage {
  feed: SkeletonItem[]
  /** omitted on the last page */
  cursor?: string
}

export interface SkeletonParams {
  /** the client's cursor, as it sent it; decode it with `decodeCursor` */
  cursor?: string
  /** 1..100, already validated */
  limit: number
  /** the requester's DID when it sent a valid service-auth token (and the feed `usesViewer`) */
  viewer?: string
  db: Db
}

export interface FeedDefinition {
  /** the record key of the feed's `app.bsky.feed.generator` record: 1-15 chars of [a-z0-9-] */
  id: string
  /** shown in the app; at most 24 graphemes */
  displayName: string
  /** at most 300 graphemes; links, @mentions and #tags become facets on publish */
  description: string
  /** path to a PNG or JPEG (<= 1 MB), relative to the working directory */
  avatar?: string
  /** @default 'unspecified' */
  contentMode?: 'unspecified' | 'video'
  /** @default false */
  acceptsInteractions?: boolean
  /** when true, requests without a valid service-auth token are refused (personalised feeds) */
  requiresAuth?: boolean
  /**
   * `skeleton` reads `viewer`. Set it to false for a feed that answers everyone alike: its
   * requests' service-auth tokens are then not checked at all (the AppView signs every request
   * of a signed-in user, and checking a signature costs ten times what serving a cached page
   * does), and `viewer` is never set. `requiresAuth` implies true. @default true
   */
  usesViewer?: boolean
  /**
   * The first page depends on nothing but the database, not on the viewer: serve it from a cache
   * that any write to the database clears, to signed-in and anonymous requests alike (the
   * AppView signs every request of a signed-in user). @default false
   */
  cacheFirstPage?: boolean
  /**
   * The record collections the feed reads; the source subscribes to their union.
   * @default ['app.bsky.feed.post']
   */
  needs?: string[]
  skeleton(params: SkeletonParams): Promise<SkeletonPage>
  /**
   * Optional: how many posts the feed holds, for the status page and `feedgen stats` (which show
   * no count without it). Must be an index range count: the status page calls it while serving.
   */
  count?(params: CountParams): Promise<number>
}

export interface CountParams {
  db: Db
  /** only posts stored at or after this time (ms) @default all */
  since?: number
  /** stop counting here: the caller shows `limit` as "at least" @default no limit */
  limit?: number
}

export type FeedModule = Readonly<
  Required<Omit<FeedDefinition, 'avatar' | 'count'>> & Pick<FeedDefinition, 'avatar' | 'count'>
>

const FEED_ID = /^[a-z0-9][a-z0-9-]{0,14}$/

/**
 * Declares a feed. Checks what can be checked before the feed is ever served or published.
 *
 * @example
 * export const hello = defineFeed({
 *   id: 'hello', displayName: 'Hello', description: 'Posts that say hello',
 *   skeleton: async ({ db, limit, cursor }) => ({ feed: [] }),
 * })
 */
export function defineFeed(def: FeedDefinition): FeedModule {
  if (!FEED_ID.test(def.id)) {
    throw new Error(`feed id "${def.id}" must be 1-15 characters of a-z, 0-9 and -`)
  }
  if (graphemes(def.displayName) > 24 || def.displayName.trim() === '') {
    throw new Error(`feed ${def.id}: displayName must be 1-24 graphemes`)
  }
  if (graphemes(def.description) > 300) {
    throw new Error(`feed ${def.id}: description must be at most 300 graphemes`)
  }
  return Object.freeze({
    contentMode: 'unspecified',
    acceptsInteractions: false,
    requiresAuth: false,
    cacheFirstPage: false,
    needs: ['app.bsky.feed.post'],
    ...def,
    usesViewer: def.requiresAuth === true || def.usesViewer !== false,
  })
}

const segmenter = new Intl.Segmenter()

export function graphemes(s: string): number {
  let n = 0
  for (const _ of segmenter.segment(s)) n++
  return n
}
