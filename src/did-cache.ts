import type { CacheResult, DidCache, DidDocument } from '@atproto/identity'
import { LRUCache } from 'lru-cache'

/** A resolved DID document is used for this long before it is refreshed... */
const STALE_MS = 60 * 60_000
/** ...and never after this long. */
const MAX_AGE_MS = 24 * 60 * 60_000
/** DIDs remembered: each viewer of a personalised request is one. */
const MAX_DIDS = 10_000

/**
 * The DID documents of token issuers (viewers), so that verifying a request's service-auth token
 * does not ask the PLC directory every time. Bounded, unlike @atproto/identity's MemoryCache
 * (one entry per viewer, forever), and a stale document is refreshed in the background: the
 * request that finds it is not held up, and a PLC that is away keeps the last good document in
 * use until it expires.
 */
export class DidDocCache implements DidCache {
  readonly #docs: LRUCache<string, { doc: DidDocument; updatedAt: number }>
  readonly #refreshing = new Set<string>()
  readonly #staleMs: number
  readonly #maxAgeMs: number

  constructor(opts: { max?: number; staleMs?: number; maxAgeMs?: number } = {}) {
    this.#docs = new LRUCache({ max: opts.max ?? MAX_DIDS })
    this.#staleMs = opts.staleMs ?? STALE_MS
    this.#maxAgeMs = opts.maxAgeMs ?? MAX_AGE_MS
  }

  async cacheDid(did: string, doc: DidDocument): Promise<void> {
    this.#docs.set(did, { doc, updatedAt: Date.now() })
  }

  async checkCache(did: string): Promise<CacheResult | null> {
    const entry = this.#docs.get(did)
    if (entry === undefined) return null
    const age = Date.now() - entry.updatedAt
    return { did, ...entry, stale: age > this.#staleMs, expired: age > this.#maxAgeMs }
  }

  async refreshCache(did: string, getDoc: () => Promise<DidDocument | null>): Promise<void> {
    if (this.#refreshing.has(did)) return
    this.#refreshing.add(did)
    getDoc()
      .then((doc) => (doc ? this.cacheDid(did, doc) : undefined))
      // the stale document stays in use; the next request past staleMs tries again
      .catch(() => {})
      .finally(() => this.#refreshing.delete(did))
  }

  async clearEntry(did: string): Promise<void> {
    this.#docs.delete(did)
  }

  async clear(): Promise<void> {
    this.#docs.clear()
  }
}
