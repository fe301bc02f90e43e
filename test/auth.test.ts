import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Secp256k1Keypair } from '@atproto/crypto'
import { createServiceJwt } from '@atproto/xrpc-server'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defineFeed } from '../src/feeds/feed.ts'
import { feeds } from '../src/feeds/index.ts'
import {
  createAccount,
  startPdsNetwork,
  type TestAccount,
  type TestNetworkNoAppView,
} from './support/network.ts'
import { insertPosts, postUri } from './support/posts.ts'
import { type Running, startServe, tempDbUrl } from './support/serve.ts'

const LXM = 'app.bsky.feed.getFeedSkeleton'

/**
 * Service-auth against a real PLC and PDS: the PDS mints tokens exactly as it does for the
 * AppView's calls, and feedgen resolves the issuer's key from the PLC.
 */
/** A feed that records who asked: public, or personalised (`requiresAuth`). */
const recorder = (id: string, requiresAuth: boolean, seen: (string | undefined)[]) =>
  defineFeed({
    id,
    displayName: id,
    description: 'test feed',
    requiresAuth,
    skeleton: async ({ viewer }) => {
      seen.push(viewer)
      return { feed: [] }
    },
  })
const askers: (string | undefined)[] = []
const whoasks = recorder('whoasks', false, askers)
const seen: (string | undefined)[] = []
const whoami = recorder('whoami', true, seen)

/** A cacheable feed that counts how often its first page is computed. */
let computed = 0
const counted = defineFeed({
  id: 'counted',
  displayName: 'Counted',
  description: 'test feed',
  cacheFirstPage: true,
  skeleton: async () => {
    computed++
    return { feed: [] }
  },
})

describe('requester auth', () => {
  let network: TestNetworkNoAppView
  let app: Running
  let alice: TestAccount
  let feed: string

  beforeAll(async () => {
    network = await startPdsNetwork()
    alice = await createAccount(network, 'alice')
    app = await startServe(
      [
        '--source',
        'none',
        '--db',
        tempDbUrl(),
        '--hostname',
        'localhost',
        '--plc-url',
        network.plc.url,
        '--publisher-did',
        alice.did,
      ],
      { feeds: [...feeds, whoasks, whoami, counted] },
    )
    feed = `at://${alice.did}/app.bsky.feed.generator/whoasks`
  })
  afterAll(async () => {
    await app?.stop()
    await network?.close()
  })

  const token = async (aud: string, lxm: string = LXM) =>
    (await alice.agent.com.atproto.server.getServiceAuth({ aud, lxm })).data.token

  const call = async (authorization?: string) => {
    const res = await fetch(`${app.url}/xrpc/${LXM}?feed=${encodeURIComponent(feed)}`, {
      headers: authorization ? { authorization } : {},
    })
    return { status: res.status, body: await res.json() }
  }

  it('names the service did:web:localhost%3A<port>, as a local AppView resolves it', () => {
    expect(app.ctx.identity.serviceDid).toBe(`did:web:localhost%3A${app.port}`)
  })

  it('answers public requests without a token', async () => {
    expect((await call()).status).toBe(200)
  })

  it('accepts a token the PDS minted for this service and method', async () => {
    const res = await call(`Bearer ${await token(app.ctx.identity.serviceDid)}`)
    expect(res.status).toBe(200)
    expect(askers.at(-1)).toBe(alice.did)
  })

  it('rejects a token for another audience', async () => {
    const res = await call(`Bearer ${await token('did:web:elsewhere.example.com')}`)
    expect(res).toMatchObject({ status: 401, body: { error: 'BadJwtAudience' } })
  })

  it('rejects a token for another method', async () => {
    const res = await call(
      `Bearer ${await token(app.ctx.identity.serviceDid, 'app.bsky.feed.getTimeline')}`,
    )
    expect(res).toMatchObject({ status: 401, body: { error: 'BadJwtLexiconMethod' } })
  })

  it('rejects an expired token signed with the right key', async () => {
    const keypair = await network.pds.ctx.actorStore.keypair(alice.did)
    const jwt = await createServiceJwt({
      iss: alice.did,
      aud: app.ctx.identity.serviceDid,
      lxm: LXM,
      exp: Math.floor(Date.now() / 1000) - 60,
      keypair,
    })
    expect(await call(`Bearer ${jwt}`)).toMatchObject({
      status: 401,
      body: { error: 'JwtExpired' },
    })
  })

  it('rejects a token forged with another key', async () => {
    const jwt = await createServiceJwt({
      iss: alice.did,
      aud: app.ctx.identity.serviceDid,
      lxm: LXM,
      keypair: await Secp256k1Keypair.create(),
    })
    expect(await call(`Bearer ${jwt}`)).toMatchObject({
      status: 401,
      body: { error: 'BadJwtSignature' },
    })
  })

  it('rejects garbage and non-Bearer authorization', async () => {
    expect((await call('Bearer not.a.jwt')).status).toBe(401)
    expect((await call('Basic YWxpY2U6cGFzcw==')).status).toBe(401)
  })

  it('does not check tokens for a feed that answers everyone alike', async () => {
    feed = `at://${alice.did}/app.bsky.feed.generator/norwegian`
    const forged = await createServiceJwt({
      iss: alice.did,
      aud: app.ctx.identity.serviceDid,
      lxm: LXM,
      keypair: await Secp256k1Keypair.create(),
    })
    const anonymous = await call()
    expect(anonymous.status).toBe(200)
    expect(await call(`Bearer ${forged}`)).toEqual(anonymous)
    expect(await call('Bearer not.a.jwt')).toEqual(anonymous)
  })

  it('serves signed-in requests the cached first page, until the database changes', async () => {
    feed = `at://${alice.did}/app.bsky.feed.generator/counted`
    const auth = `Bearer ${await token(app.ctx.identity.serviceDid)}`
    expect((await call(auth)).status).toBe(200)
    expect((await call(auth)).status).toBe(200)
    expect((await call()).status).toBe(200)
    expect(computed).toBe(1)
    await insertPosts(app.ctx.db, [{ uri: postUri(), time: Date.now(), langs: ['nb'] }])
    expect((await call(auth)).status).toBe(200)
    expect(computed).toBe(2)
  })

  it('hands the verified viewer DID to a personalised feed, and refuses it without a token', async () => {
    feed = `at://${alice.did}/app.bsky.feed.generator/whoami`
    expect((await call()).status).toBe(401)
    expect((await call(`Bearer ${await token(app.ctx.identity.serviceDid)}`)).status).toBe(200)
    expect(seen).toEqual([alice.did])
  })
})

describe('issuer resolution', () => {
  let network: TestNetworkNoAppView
  let alice: TestAccount
  let plc: { url: string; lookups: string[]; down: boolean; close(): Promise<void> }

  beforeAll(async () => {
    network = await startPdsNetwork()
    alice = await createAccount(network, 'alice')
    plc = await countingProxy(network.plc.url)
  })
  afterAll(async () => {
    await plc?.close()
    await network?.close()
  })

  it('asks the PLC once per issuer, and keeps its key while the PLC is away', async () => {
    await using app = await startServe(
      [
        ...['--source', 'none', '--db', tempDbUrl(), '--hostname', 'localhost'],
        ...['--plc-url', plc.url, '--publisher-did', alice.did],
      ],
      { feeds: [whoasks] },
    )
    const feed = `at://${alice.did}/app.bsky.feed.generator/whoasks`
    const call = async () => {
      const { token } = (
        await alice.agent.com.atproto.server.getServiceAuth({
          aud: app.ctx.identity.serviceDid,
          lxm: LXM,
        })
      ).data
      const res = await fetch(`${app.url}/xrpc/${LXM}?feed=${encodeURIComponent(feed)}`, {
        headers: { authorization: `Bearer ${token}` },
      })
      return res.status
    }
    const asked = askers.length
    for (let i = 0; i < 3; i++) expect(await call()).toBe(200)
    expect(askers.slice(asked)).toEqual([alice.did, alice.did, alice.did])
    expect(plc.lookups.filter((path) => path.includes(alice.did))).toHaveLength(1)
    plc.down = true
    expect(await call()).toBe(200)
  })
})

/** A loopback HTTP proxy to `target` that records each path asked for; `down` answers 503. */
async function countingProxy(target: string) {
  const lookups: string[] = []
  const proxy = {
    url: '',
    lookups,
    down: false,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
  const server = createServer((req, res) => {
    lookups.push(decodeURIComponent(req.url ?? ''))
    if (proxy.down) {
      res.writeHead(503).end()
      return
    }
    fetch(`${target}${req.url}`).then(
      async (upstream) => {
        res.writeHead(upstream.status, { 'content-type': 'application/json' })
        res.end(Buffer.from(await upstream.arrayBuffer()))
      },
      () => res.writeHead(502).end(),
    )
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return proxy
}
