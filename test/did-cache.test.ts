import type { DidDocument } from '@atproto/identity'
import { describe, expect, it } from 'vitest'
import { DidDocCache } from '../src/did-cache.ts'

const doc = (id: string): DidDocument => ({ id })

describe('DidDocCache', () => {
  it('forgets the least recently used DID beyond its bound', async () => {
    const cache = new DidDocCache({ max: 2 })
    await cache.cacheDid('did:plc:a', doc('did:plc:a'))
    await cache.cacheDid('did:plc:b', doc('did:plc:b'))
    await cache.checkCache('did:plc:a')
    await cache.cacheDid('did:plc:c', doc('did:plc:c'))
    expect(await cache.checkCache('did:plc:b')).toBeNull()
    expect((await cache.checkCache('did:plc:a'))?.doc).toEqual(doc('did:plc:a'))
  })

  it('says stale, then expired, as the document ages', async () => {
    const cache = new DidDocCache({ staleMs: 20, maxAgeMs: 60 })
    await cache.cacheDid('did:plc:a', doc('did:plc:a'))
    expect(await cache.checkCache('did:plc:a')).toMatchObject({ stale: false, expired: false })
    await new Promise((r) => setTimeout(r, 30))
    expect(await cache.checkCache('did:plc:a')).toMatchObject({ stale: true, expired: false })
    await new Promise((r) => setTimeout(r, 40))
    expect(await cache.checkCache('did:plc:a')).toMatchObject({ stale: true, expired: true })
  })

  it('refreshes in the background, once at a time, and keeps the old document on failure', async () => {
    const cache = new DidDocCache()
    await cache.cacheDid('did:plc:a', doc('did:plc:a'))
    let calls = 0
    let release = (_: DidDocument | null) => {}
    const slow = () => {
      calls++
      return new Promise<DidDocument | null>((resolve) => {
        release = resolve
      })
    }
    await cache.refreshCache('did:plc:a', slow)
    await cache.refreshCache('did:plc:a', slow)
    expect(calls).toBe(1)
    release({ id: 'did:plc:a', alsoKnownAs: ['at://new.test'] })
    await new Promise((r) => setImmediate(r))
    expect((await cache.checkCache('did:plc:a'))?.doc.alsoKnownAs).toEqual(['at://new.test'])
    await cache.refreshCache('did:plc:a', () => Promise.reject(new Error('PLC away')))
    await new Promise((r) => setImmediate(r))
    expect((await cache.checkCache('did:plc:a'))?.doc.alsoKnownAs).toEqual(['at://new.test'])
  })
})
