import { AtUri } from '@atproto/api'
import { verifyJwt } from '@atproto/xrpc-server'
import { describe, expect, it } from 'vitest'
import {
  appViewAvailable,
  createAccount,
  createPost,
  localIdResolver,
  startAppViewNetwork,
  startPdsNetwork,
} from './support/network.ts'

const FEEDGEN_DID = 'did:web:localhost%3A1234'
const LXM = 'app.bsky.feed.getFeedSkeleton'

describe('local PDS network', () => {
  it('creates accounts and posts, and issues a service-auth JWT that verifies against the local PLC', async () => {
    const t0 = performance.now()
    await using network = await startPdsNetwork()
    console.log(`PDS network (PLC + PDS) booted in ${Math.round(performance.now() - t0)} ms`)

    const alice = await createAccount(network, 'alice')
    const bob = await createAccount(network, 'bob')
    expect(alice.did).toMatch(/^did:plc:/)
    expect(bob.did).not.toBe(alice.did)

    const post = await createPost(alice, 'hej fra alice', { langs: ['da'] })
    const uri = new AtUri(post.uri)
    expect([uri.host, uri.collection]).toEqual([alice.did, 'app.bsky.feed.post'])
    const { data: record } = await bob.agent.com.atproto.repo.getRecord({
      repo: uri.host,
      collection: uri.collection,
      rkey: uri.rkey,
    })
    expect(record.value).toMatchObject({ text: 'hej fra alice', langs: ['da'] })

    const { data } = await bob.agent.com.atproto.server.getServiceAuth({
      aud: FEEDGEN_DID,
      lxm: LXM,
    })
    expect(data.token.split('.')).toHaveLength(3)

    const resolver = localIdResolver(network)
    const payload = await verifyJwt(data.token, FEEDGEN_DID, LXM, (iss, forceRefresh) =>
      resolver.did.resolveAtprotoKey(iss, forceRefresh),
    )
    expect(payload).toMatchObject({ iss: bob.did, aud: FEEDGEN_DID, lxm: LXM })
  })
})

describe.skipIf(!appViewAvailable())('local network with the reference AppView', () => {
  it('indexes a post from the PDS and serves it in the author feed', async () => {
    const t0 = performance.now()
    await using network = await startAppViewNetwork()
    console.log(
      `AppView network (PLC + PDS + bsky + bsync + ozone) booted in ${Math.round(performance.now() - t0)} ms`,
    )

    const alice = await createAccount(network, 'alice')
    const post = await createPost(alice, 'hello appview')
    await network.processAll()

    // Through the PDS, which proxies app.bsky reads to the AppView.
    const { data } = await alice.agent.getAuthorFeed({ actor: alice.did })
    expect(data.feed.map((item) => item.post.uri)).toEqual([post.uri])
    expect(data.feed[0]?.post.record).toMatchObject({ text: 'hello appview' })
  })
})
