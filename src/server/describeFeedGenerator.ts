import type { Server } from '@atproto/xrpc-server'
import type { AppContext } from '../context.ts'
import { feedUri } from './getFeedSkeleton.ts'
import { DESCRIBE_FEED_GENERATOR } from './lexicons.ts'

export function describeFeedGenerator(server: Server, ctx: AppContext): void {
  server.method(DESCRIBE_FEED_GENERATOR, async () => ({
    encoding: 'application/json',
    body: {
      did: ctx.identity.serviceDid,
      feeds: [...ctx.feeds.keys()].map((id) => ({ uri: feedUri(ctx.publisherDid, id) })),
    },
  }))
}
