import { AtUri, ids } from '@atproto/api'
import { AuthRequiredError, InvalidRequestError, type Server } from '@atproto/xrpc-server'
import type { AppContext } from '../context.ts'
import type { FeedModule } from '../feeds/feed.ts'
import { viewerAuth } from './auth.ts'

const FEED_COLLECTION = 'app.bsky.feed.generator'

export function getFeedSkeleton(server: Server, ctx: AppContext): void {
  server.method(ids.AppBskyFeedGetFeedSkeleton, {
    auth: viewerAuth(ctx, ids.AppBskyFeedGetFeedSkeleton),
    handler: async ({ params, auth }) => {
      const feed = findFeed(ctx, String(params.feed))
      const viewer = auth.credentials.viewer
      if (feed.requiresAuth && viewer === null) {
        throw new AuthRequiredError('this feed is personalised: sign in to see it')
      }
      const page = await feed.skeleton({
        db: ctx.db,
        limit: Number(params.limit),
        ...(typeof params.cursor === 'string' ? { cursor: params.cursor } : {}),
        ...(viewer ? { viewer } : {}),
      })
      return { encoding: 'application/json', body: page }
    },
  })
}

/** Only our own publisher's generator records name our feeds. */
function findFeed(ctx: AppContext, uri: string): FeedModule {
  let at: AtUri
  try {
    at = new AtUri(uri)
  } catch {
    throw new InvalidRequestError('feed must be an at:// URI', 'UnknownFeed')
  }
  const feed = ctx.feeds.get(at.rkey)
  if (at.host !== ctx.publisherDid || at.collection !== FEED_COLLECTION || !feed) {
    throw new InvalidRequestError(`unknown feed: ${uri}`, 'UnknownFeed')
  }
  return feed
}

export function feedUri(publisherDid: string, feedId: string): string {
  return `at://${publisherDid}/${FEED_COLLECTION}/${feedId}`
}
