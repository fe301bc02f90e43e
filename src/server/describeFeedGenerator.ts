import { ids } from '@atproto/api'
import type { Server } from '@atproto/xrpc-server'
import type { AppContext } from '../context.ts'
import { feedUri } from './getFeedSkeleton.ts'

export function describeFeedGenerator(server: Server, ctx: AppContext): void {
  server.method(ids.AppBskyFeedDescribeFeedGenerator, async () => ({
    encoding: 'application/json',
    body: {
      did: ctx.identity.serviceDid,
      feeds: [...ctx.feeds.keys()].map((id) => ({ uri: feedUri(ctx.publisherDid, id) })),
    },
  }))
}
