import type { FeedModule } from './feed.ts'

export type FeedRegistry = ReadonlyMap<string, FeedModule>

/** Indexes feeds by id; two feeds with one id would shadow each other, so that is an error. */
export function createRegistry(feeds: readonly FeedModule[]): FeedRegistry {
  const byId = new Map<string, FeedModule>()
  for (const feed of feeds) {
    if (byId.has(feed.id)) throw new Error(`two feeds have the id "${feed.id}"`)
    byId.set(feed.id, feed)
  }
  return byId
}

/** The collections the configured feeds read, for the source's subscription. */
export function neededCollections(registry: FeedRegistry): string[] {
  return [...new Set([...registry.values()].flatMap((f) => f.needs))].sort()
}
