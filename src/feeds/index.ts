import type { FeedModule } from './feed.ts'
import { bokmal, danish, norwegian, nynorsk, swedish } from './scandinavian.ts'

export { decodeCursor, encodeCursor, type FeedPosition } from './cursor.ts'
export { defineFeed, type FeedDefinition, type FeedModule, type SkeletonPage } from './feed.ts'
export { languageFeed } from './language-feed.ts'
export { createRegistry, type FeedRegistry, neededCollections } from './registry.ts'

/** The feeds this deployment serves and publishes: add yours here. */
export const feeds: readonly FeedModule[] = [norwegian, bokmal, nynorsk, swedish, danish]
