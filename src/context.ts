import { IdResolver } from '@atproto/identity'
import { ConfigError, isLocalUrl, type ServiceIdentity } from './config.ts'
import type { Db } from './db/index.ts'
import { DidDocCache } from './did-cache.ts'
import type { FeedRegistry } from './feeds/registry.ts'
import type { Logger } from './logger.ts'
import type { Metrics } from './metrics.ts'

/** Everything a request handler or the ingest needs; built once in `serve`, passed down. */
export interface AppContext {
  version: string
  identity: ServiceIdentity
  /** the DID whose repo holds the `app.bsky.feed.generator` records */
  publisherDid: string
  db: Db
  /** the database file for a `file:` URL, else null */
  dbPath: string | null
  feeds: FeedRegistry
  idResolver: IdResolver
  logger: Logger
  metrics: Metrics
}

/**
 * Resolves handles and DIDs, keeping issuers' DID documents (`DidDocCache`): without a cache,
 * every authenticated feed request would ask the PLC directory.
 *
 * The SSRF-guarded default fetch refuses http, custom ports and IP hosts; a local PLC (dev-env,
 * tests) or a did:web on localhost needs a plain fetch, and only then is one used.
 */
export function createIdResolver(plcUrl: string): IdResolver {
  return new IdResolver({
    plcUrl,
    didCache: new DidDocCache(),
    ...(isLocalUrl(plcUrl) ? { fetch: globalThis.fetch } : {}),
  })
}

/**
 * The publisher is named by DID, or by handle (resolved once, here), or defaults to the
 * service's own DID, which suits a service that publishes its feeds from its own did:plc.
 */
export async function resolvePublisherDid(
  opts: { publisherDid?: string; publisherHandle?: string },
  identity: ServiceIdentity,
  idResolver: IdResolver,
): Promise<string> {
  if (opts.publisherDid) return opts.publisherDid
  if (!opts.publisherHandle) return identity.serviceDid
  const did = await idResolver.handle.resolve(opts.publisherHandle).catch((cause: unknown) => {
    throw new ConfigError(`could not resolve the handle ${opts.publisherHandle}`, { cause })
  })
  if (!did) throw new ConfigError(`the handle ${opts.publisherHandle} does not resolve to a DID`)
  return did
}
