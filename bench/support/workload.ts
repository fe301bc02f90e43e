import {
  type GenerateOptions,
  generateEvents,
  NETWORK_PROFILE,
  POST,
  TEST_PROFILE,
} from '../../test/support/jetstream-events.ts'
import type { JetstreamEvent } from '../../test/support/jetstream-server.ts'

export const LIKE = 'app.bsky.feed.like'
export const REPOST = 'app.bsky.feed.repost'

/** The network's post stream, for catch-up figures: about 5 million posts a day. */
export const NETWORK_POSTS_PER_DAY = 5_000_000

/** What a benchmark's stream is, in a form that crosses process boundaries (JSON). */
export interface StreamOptions extends Omit<GenerateOptions, 'profile'> {
  profile: 'network' | 'test'
}

export function streamOptions(o: StreamOptions): GenerateOptions {
  return { ...o, profile: o.profile === 'network' ? NETWORK_PROFILE : TEST_PROFILE }
}

/** The same events the replay server of `o` sends. */
export function streamEvents(o: StreamOptions): JetstreamEvent[] {
  return generateEvents(streamOptions(o))
}

/** The events a client subscribed to `collections` receives (all kinds but foreign commits). */
export function received(events: readonly JetstreamEvent[], collections: readonly string[]) {
  const wanted = new Set(collections)
  return events.filter((e) => e.kind !== 'commit' || wanted.has(e.commit?.collection ?? ''))
}

/** µs between events so that posts arrive at the network's rate. */
export function networkStepUs(postShare: number): number {
  return Math.round((86_400e6 / NETWORK_POSTS_PER_DAY) * postShare)
}

export { NETWORK_PROFILE, POST, TEST_PROFILE }
