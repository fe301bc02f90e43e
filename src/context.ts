import type { DidDocument, IdResolver } from '@atproto/identity'
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
  idResolver: Identities
  logger: Logger
  metrics: Metrics
}

/** What feedgen asks of the network's identity layer. */
export interface Identities {
  /** the atproto signing key of `did` as a did:key; `forceRefresh` looks past the cache */
  atprotoKey(did: string, forceRefresh?: boolean): Promise<string>
  /** the DID `handle` points to, or undefined */
  resolveHandle(handle: string): Promise<string | undefined>
}

/**
 * Resolves handles and DIDs, keeping issuers' DID documents (`DidDocCache`): without a cache,
 * every authenticated feed request would ask the PLC directory.
 *
 * @atproto/identity is loaded on first use: with its SSRF-guarded fetch it brings three copies of
 * undici, ~15 MB of resident memory that a server whose feeds all answer everyone alike (so check
 * no tokens) and whose publisher is named by DID never needs.
 *
 * The SSRF-guarded default fetch refuses http, custom ports and IP hosts; a local PLC (dev-env,
 * tests) or a did:web on localhost needs a plain fetch, and only then is one used.
 */
export function createIdResolver(plcUrl: string): Identities {
  let loading: Promise<{ resolver: IdResolver; keyOf: (doc: DidDocument) => string }> | undefined
  const load = () =>
    (loading ??= import('@atproto/identity').then(({ IdResolver, ensureAtprotoKey }) => {
      // The key of each document the cache holds (it hands out the same object until it
      // refreshes it): deriving it decompresses the key, 0.1 ms a signed-in request.
      const keys = new WeakMap<DidDocument, string>()
      const keyOf = (doc: DidDocument) => {
        let key = keys.get(doc)
        if (key === undefined) {
          key = ensureAtprotoKey(doc)
          keys.set(doc, key)
        }
        return key
      }
      const resolver = new IdResolver({
        plcUrl,
        didCache: new DidDocCache(),
        ...(isLocalUrl(plcUrl) ? { fetch: globalThis.fetch } : {}),
      })
      return { resolver, keyOf }
    }))
  return {
    async atprotoKey(did, forceRefresh = false) {
      if (did.startsWith('did:key:')) return did
      const { resolver, keyOf } = await load()
      return keyOf(await resolver.did.ensureResolve(did, forceRefresh))
    },
    async resolveHandle(handle) {
      return (await load()).resolver.handle.resolve(handle)
    },
  }
}

/**
 * The publisher is named by DID, or by handle (resolved once, here), or defaults to the
 * service's own DID, which suits a service that publishes its feeds from its own did:plc.
 */
export async function resolvePublisherDid(
  opts: { publisherDid?: string; publisherHandle?: string },
  identity: ServiceIdentity,
  idResolver: Identities,
): Promise<string> {
  if (opts.publisherDid) return opts.publisherDid
  if (!opts.publisherHandle) return identity.serviceDid
  const did = await idResolver.resolveHandle(opts.publisherHandle).catch((cause: unknown) => {
    throw new ConfigError(`could not resolve the handle ${opts.publisherHandle}`, { cause })
  })
  if (!did) throw new ConfigError(`the handle ${opts.publisherHandle} does not resolve to a DID`)
  return did
}
