import { connect } from 'node:net'
import { P256Keypair, Secp256k1Keypair } from '@atproto/crypto'
import { createServiceJwt } from '@atproto/xrpc-server'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defineFeed } from '../../src/feeds/feed.ts'
import { feeds } from '../../src/feeds/index.ts'
import { mulberry32 } from '../support/jetstream-events.ts'
import {
  createAccount,
  startPdsNetwork,
  type TestAccount,
  type TestNetworkNoAppView,
} from '../support/network.ts'
import { type Running, startServe, tempDbUrl } from '../support/serve.ts'
import { report, sized } from './harness.ts'

const LXM = 'app.bsky.feed.getFeedSkeleton'
const SKELETON = `/xrpc/${LXM}`
const DESCRIBE = '/xrpc/app.bsky.feed.describeFeedGenerator'
/** what a stack trace or a server path looks like in a body */
const LEAK = /\n\s+at |node_modules|\/work\/|\/src\/|file:\/\/|\.[jt]s:\d+/

/** Every viewer a feed was ever handed: only tokens that are valid may put a DID here. */
const viewers: string[] = []
const recorder = (id: string, requiresAuth: boolean) =>
  defineFeed({
    id,
    displayName: id,
    description: 'records its viewers',
    requiresAuth,
    skeleton: async ({ viewer }) => {
      if (viewer !== undefined) viewers.push(viewer)
      return { feed: [] }
    },
  })

interface Answer {
  status: number
  text: string
}

/** One request on its own connection, bytes as given: no client tidies the request line. */
function rawRequest(port: number, head: Buffer | string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    socket.on('data', (d: Buffer) => chunks.push(d))
    socket.on('error', reject)
    socket.on('close', () => {
      const raw = Buffer.concat(chunks).toString('latin1')
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0)
      const body = raw.slice(raw.indexOf('\r\n\r\n') + 4)
      resolve({ status, text: decodeChunked(raw, body) })
    })
    socket.end(head)
  })
}

function decodeChunked(raw: string, body: string): string {
  if (!/transfer-encoding: chunked/i.test(raw)) return Buffer.from(body, 'latin1').toString()
  let out = ''
  let rest = body
  for (;;) {
    const eol = rest.indexOf('\r\n')
    const size = Number.parseInt(rest.slice(0, eol), 16)
    if (!(size > 0)) break
    out += rest.slice(eol + 2, eol + 2 + size)
    rest = rest.slice(eol + 2 + size + 2)
  }
  return Buffer.from(out, 'latin1').toString()
}

/**
 * What every answer must be: a 200 of the method's shape, or a 4xx with an XRPC error body;
 * never a 5xx, never a stack trace or a path. Returns the problem, or null.
 */
function problem(path: string, a: Answer): string | null {
  const where = `${a.status} for ${JSON.stringify(path.slice(0, 300))}`
  if (LEAK.test(a.text)) return `${where}: leaks ${a.text.slice(0, 300)}`
  // the XRPC spec's answer to a method name the server does not have (here: a mangled one)
  const method = path.split('?')[0]
  const unknownMethod = method !== SKELETON && method !== DESCRIBE
  const notImplemented =
    a.status === 501 && unknownMethod && a.text.includes('MethodNotImplemented')
  if ((a.status < 200 || a.status >= 500) && !notImplemented) {
    return `${where}: ${a.text.slice(0, 300)}`
  }
  let body: unknown
  try {
    body = JSON.parse(a.text)
  } catch {
    return `${where}: body is not JSON: ${a.text.slice(0, 200)}`
  }
  const b = body as Record<string, unknown>
  if (a.status === 200) {
    const ok = path.includes(DESCRIBE) ? Array.isArray(b.feeds) : Array.isArray(b.feed)
    return ok ? null : `${where}: 200 of the wrong shape ${a.text.slice(0, 200)}`
  }
  if (a.status < 400) return `${where}: unexpected status`
  return typeof b.error === 'string' && typeof b.message === 'string'
    ? null
    : `${where}: not an XRPC error body ${a.text.slice(0, 200)}`
}

describe('fuzzed HTTP requests', () => {
  let network: TestNetworkNoAppView
  let app: Running
  let alice: TestAccount
  let bob: TestAccount
  let publisher: string
  const statuses = new Map<number, number>()
  const problems: string[] = []

  const count = (a: Answer) => statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1)
  const get = async (path: string, headers: Record<string, string> = {}): Promise<Answer> => {
    const res = await fetch(`${app.url}${path}`, { headers })
    const a = { status: res.status, text: await res.text() }
    count(a)
    const p = problem(path, a)
    if (p) problems.push(p)
    return a
  }
  const raw = async (path: Buffer | string, extraHeaders = ''): Promise<Answer> => {
    const head = Buffer.concat([
      Buffer.from('GET '),
      Buffer.isBuffer(path) ? path : Buffer.from(path),
      Buffer.from(` HTTP/1.1\r\nhost: 127.0.0.1\r\n${extraHeaders}connection: close\r\n\r\n`),
    ])
    const a = await rawRequest(app.port, head)
    count(a)
    const p = problem(String(path), a)
    if (p) problems.push(p)
    return a
  }
  const feedUri = (id: string, did = publisher) => `at://${did}/app.bsky.feed.generator/${id}`

  beforeAll(async () => {
    network = await startPdsNetwork()
    alice = await createAccount(network, 'alice')
    bob = await createAccount(network, 'bob')
    publisher = alice.did
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
        publisher,
      ],
      { feeds: [...feeds, recorder('private', true), recorder('public', false)] },
    )
  })
  afterAll(async () => {
    await app?.stop()
    await network?.close()
  })

  it('answers the plain cases as the lexicon says', async () => {
    const feed = encodeURIComponent(feedUri('norwegian'))
    const cursor = encodeURIComponent(`1700000000000::at://${publisher}/app.bsky.feed.post/3k`)
    for (const [path, status] of [
      [`${SKELETON}?feed=${feed}`, 200],
      [`${SKELETON}?feed=${feed}&limit=1`, 200],
      [`${SKELETON}?feed=${feed}&limit=100`, 200],
      [`${SKELETON}?feed=${feed}&cursor=${cursor}`, 200],
      [DESCRIBE, 200],
      [`${DESCRIBE}?feed=x&limit=-1`, 200],
      [SKELETON, 400],
      [`${SKELETON}?feed=${feed}&limit=0`, 400],
      [`${SKELETON}?feed=${feed}&limit=101`, 400],
      [`${SKELETON}?feed=${feed}&limit=-5`, 400],
      [`${SKELETON}?feed=${feed}&limit=ten`, 400],
      [`${SKELETON}?feed=${feed}&cursor=abc`, 400],
      [`${SKELETON}?feed=${feed}&cursor=${encodeURIComponent('99999999999999999::at://x')}`, 400],
      [`${SKELETON}?feed=${encodeURIComponent(feedUri('nope'))}`, 400],
      [`${SKELETON}?feed=${encodeURIComponent(feedUri('norwegian', bob.did))}`, 400],
      [`${SKELETON}?feed=not-a-uri`, 400],
    ] as const) {
      expect((await get(path)).status, path).toBe(status)
    }
    expect(
      JSON.parse((await get(`${SKELETON}?feed=${encodeURIComponent(feedUri('nope'))}`)).text),
    ).toMatchObject({ error: 'UnknownFeed' })
    expect(problems).toEqual([])
  })

  it(`answers ${sized(500, 5_000)} fuzzed query strings with a page or an XRPC 4xx, never a 5xx or a trace`, async () => {
    statuses.clear()
    problems.length = 0
    const seed = 31337
    const rand = mulberry32(seed)
    const n = sized(500, 5_000)
    for (let i = 0; i < n; i++) {
      const { path, rawBytes } = fuzzQuery(rand, publisher)
      // a tenth go out byte for byte, past what fetch would encode
      if (rawBytes || rand() < 0.1) await raw(rawBytes ?? path)
      else await get(path)
    }
    expect(problems, `seed ${seed}`).toEqual([])
    expect(viewers).toEqual([])
    report('http query fuzz', { seed, requests: n, ...statusFigures(statuses) })
  })

  it('refuses every forged, broken or misdirected token, and hands no feed a viewer from one', async () => {
    statuses.clear()
    problems.length = 0
    const seed = 777
    const rand = mulberry32(seed)
    const aud = app.ctx.identity.serviceDid
    const key = await network.pds.ctx.actorStore.keypair(alice.did)
    const valid = async () =>
      (await alice.agent.com.atproto.server.getServiceAuth({ aud, lxm: LXM })).data.token
    const now = Math.floor(Date.now() / 1000)
    const forged: [string, string][] = [
      ['garbage', 'Bearer not.a.jwt'],
      ['empty bearer', 'Bearer '],
      ['no scheme', await valid()],
      ['basic', 'Basic YWxpY2U6cGFzcw=='],
      ['lowercase scheme', `bearer ${await valid()}`],
      ['dpop scheme', `DPoP ${await valid()}`],
      ['two tokens', `Bearer ${await valid()}, Bearer x.y.z`],
      ['alg none', `Bearer ${jwt({ alg: 'none' }, claims(alice.did, aud, now))}.`],
      [
        'alg HS256',
        `Bearer ${await signed(key, { alg: 'HS256', typ: 'JWT' }, claims(alice.did, aud, now))}`,
      ],
      [
        'alg ES256 on a k256 key',
        `Bearer ${await signed(key, { alg: 'ES256', typ: 'JWT' }, claims(alice.did, aud, now))}`,
      ],
      ['no alg', `Bearer ${await signed(key, { typ: 'JWT' }, claims(alice.did, aud, now))}`],
      [
        'typ at+jwt',
        `Bearer ${await signed(key, { alg: 'ES256K', typ: 'at+jwt' }, claims(alice.did, aud, now))}`,
      ],
      [
        'typ refresh+jwt',
        `Bearer ${await signed(key, { alg: 'ES256K', typ: 'refresh+jwt' }, claims(alice.did, aud, now))}`,
      ],
      [
        'expired',
        `Bearer ${await createServiceJwt({ iss: alice.did, aud, lxm: LXM, exp: now - 60, keypair: key })}`,
      ],
      [
        'issued in the future',
        `Bearer ${await createServiceJwt({ iss: alice.did, aud, lxm: LXM, iat: now + 3600, exp: now + 3660, keypair: key })}`,
      ],
      [
        'not before the future',
        `Bearer ${await signed(key, { alg: 'ES256K', typ: 'JWT' }, { ...claims(alice.did, aud, now), nbf: now + 3600 })}`,
      ],
      [
        'wrong audience',
        `Bearer ${await createServiceJwt({ iss: alice.did, aud: 'did:web:elsewhere.example', lxm: LXM, keypair: key })}`,
      ],
      [
        'no lxm',
        `Bearer ${await createServiceJwt({ iss: alice.did, aud, lxm: null, keypair: key })}`,
      ],
      [
        'another method',
        `Bearer ${await createServiceJwt({ iss: alice.did, aud, lxm: 'app.bsky.feed.getTimeline', keypair: key })}`,
      ],
      [
        'another method from the PDS',
        `Bearer ${(await alice.agent.com.atproto.server.getServiceAuth({ aud, lxm: 'app.bsky.feed.getTimeline' })).data.token}`,
      ],
      [
        'another audience from the PDS',
        `Bearer ${(await alice.agent.com.atproto.server.getServiceAuth({ aud: 'did:web:elsewhere.example', lxm: LXM })).data.token}`,
      ],
      [
        'bob claimed, alice signed',
        `Bearer ${await createServiceJwt({ iss: bob.did, aud, lxm: LXM, keypair: key })}`,
      ],
      [
        'unknown issuer',
        `Bearer ${await createServiceJwt({ iss: 'did:plc:zzzzzzzzzzzzzzzzzzzzzzzz', aud, lxm: LXM, keypair: key })}`,
      ],
      [
        'issuer that is no DID',
        `Bearer ${await signed(key, { alg: 'ES256K', typ: 'JWT' }, { ...claims(alice.did, aud, now), iss: 'alice' })}`,
      ],
      [
        'another k256 key',
        `Bearer ${await createServiceJwt({ iss: alice.did, aud, lxm: LXM, keypair: await Secp256k1Keypair.create() })}`,
      ],
      [
        'another p256 key',
        `Bearer ${await createServiceJwt({ iss: alice.did, aud, lxm: LXM, keypair: await P256Keypair.create() })}`,
      ],
      [
        'exp as a string',
        `Bearer ${await signed(key, { alg: 'ES256K', typ: 'JWT' }, { ...claims(alice.did, aud, now), exp: String(now + 60) })}`,
      ],
      [
        'payload an array',
        `Bearer ${await signed(key, { alg: 'ES256K', typ: 'JWT' }, [alice.did, aud])}`,
      ],
      ['four segments', `Bearer ${await valid()}.x`],
      ['signature cut', `Bearer ${(await valid()).slice(0, -10)}`],
      ['signature empty', `Bearer ${(await valid()).replace(/[^.]+$/, '')}`],
      [
        'huge token under the header limit',
        `Bearer ${(await valid()).replace(/\.[^.]+$/, `.${'A'.repeat(12_000)}`)}`,
      ],
    ]
    // random damage to the signed part of a real token
    for (let i = 0; i < sized(60, 600); i++) {
      const [h, p, s] = (await valid()).split('.') as [string, string, string]
      const part = rand() < 0.5 ? 0 : 1
      const parts = [h, p]
      const target = parts[part] as string
      const at = Math.floor(rand() * target.length)
      const ch = 'ABCxyz019-_+/=.%'[Math.floor(rand() * 16)] as string
      const mutated = target.slice(0, at) + ch + target.slice(at + 1)
      if (mutated === target) continue
      parts[part] = mutated
      forged.push([
        `mutated ${part === 0 ? 'header' : 'payload'} #${i}`,
        `Bearer ${parts.join('.')}.${s}`,
      ])
    }

    for (const feedId of ['private', 'public']) {
      const path = `${SKELETON}?feed=${encodeURIComponent(feedUri(feedId))}`
      for (const [name, authorization] of forged) {
        const a = await get(path, { authorization })
        expect(a.status, `${name} on ${feedId}`).toBe(401)
      }
      // over Node's header limit: refused before any handler, still as XRPC JSON
      const huge = await get(path, { authorization: `Bearer ${'A'.repeat(20_000)}` })
      expect(huge.status).toBe(431)
      // what no fetch would send: unicode bytes and a second Authorization header
      const doubled = await raw(
        path,
        `authorization: Bearer x.y.z\r\nauthorization: Bearer ${await valid()}\r\n`,
      )
      expect(doubled.status).toBe(401)
      const unicode = await raw(path, 'authorization: Bearer \u00e9\u00ff.\u00fe.\u00fd\r\n')
      expect(unicode.status).toBe(401)
    }
    expect(problems, `seed ${seed}`).toEqual([])
    expect(viewers).toEqual([])

    // the control: a real token reaches both feeds as alice
    for (const feedId of ['private', 'public']) {
      const path = `${SKELETON}?feed=${encodeURIComponent(feedUri(feedId))}`
      expect((await get(path, { authorization: `Bearer ${await valid()}` })).status).toBe(200)
    }
    expect(viewers).toEqual([alice.did, alice.did])
    report('http auth fuzz', { seed, forged: forged.length * 2 + 6, ...statusFigures(statuses) })
  })
})

function statusFigures(statuses: Map<number, number>): Record<string, number> {
  return Object.fromEntries(
    [...statuses].sort(([a], [b]) => a - b).map(([s, n]) => [`http${s}`, n]),
  )
}

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url')
const jwt = (header: unknown, payload: unknown): string => `${b64(header)}.${b64(payload)}`

function claims(iss: string, aud: string, now: number): Record<string, unknown> {
  return { iss, aud, lxm: LXM, iat: now, exp: now + 60, jti: `j${now}` }
}

/** A JWT with any header and payload, signed by `key` as a real one would be. */
async function signed(
  key: { sign(msg: Uint8Array): Promise<Uint8Array> },
  header: unknown,
  payload: unknown,
): Promise<string> {
  const input = jwt(header, payload)
  const sig = Buffer.from(await key.sign(Buffer.from(input))).toString('base64url')
  return `${input}.${sig}`
}

type Rand = () => number
const pickOf = <T>(rand: Rand, xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T

/** A query for one of the two methods, from pieces that are right, wrong, or hostile. */
function fuzzQuery(rand: Rand, publisher: string): { path: string; rawBytes?: Buffer } {
  const ours = `at://${publisher}/app.bsky.feed.generator/norwegian`
  const feeds = [
    ours,
    `at://${publisher}/app.bsky.feed.generator/private`,
    `at://did:plc:aaaaaaaaaaaaaaaaaaaaaaaa/app.bsky.feed.generator/norwegian`,
    `at://${publisher}/app.bsky.feed.post/norwegian`,
    `at://${publisher}/app.bsky.feed.generator/${'x'.repeat(600)}`,
    `at://${publisher}/app.bsky.feed.generator/../norwegian`,
    `at://${publisher.toUpperCase()}/app.bsky.feed.generator/norwegian`,
    'at://',
    'https://example.com/feed',
    '',
    'norwegian',
    'ørret 🐟',
    `${ours}?x=1#frag`,
    '\u0000',
    '{"$type":"x"}',
  ]
  const limits = [
    '1',
    '30',
    '100',
    '0',
    '-1',
    '101',
    '1e3',
    'abc',
    '',
    '1.5',
    '0x10',
    ' 5',
    '５',
    '9'.repeat(40),
    'NaN',
    'Infinity',
    '-0',
  ]
  const cursors = [
    `1700000000000::${ours}`,
    `1700000000000::at://${publisher}/app.bsky.feed.post/3k2`,
    '',
    '::',
    '::at://x',
    '1::',
    '-1::at://x',
    '99999999999999999::at://x',
    '1::http://x',
    `1::at://${'é'.repeat(600)}`,
    '1::at://\u0000',
    'null',
    '[object Object]',
    'A'.repeat(3000),
    '%',
  ]
  const enc = (v: string) =>
    rand() < 0.7 ? encodeURIComponent(v) : v.replace(/[#&\s]/g, encodeURIComponent)
  const garbage = ['%', '%E0%A4%A', '%ZZ', '%00', '%C0%AF', '%FF%FE', '%2', '%%', '%u0041']
  const params: string[] = []
  const n = Math.floor(rand() * 6)
  for (let i = 0; i < n; i++) {
    const r = rand()
    if (r < 0.35) params.push(`feed=${enc(pickOf(rand, feeds))}`)
    else if (r < 0.55) params.push(`limit=${enc(pickOf(rand, limits))}`)
    else if (r < 0.75) params.push(`cursor=${enc(pickOf(rand, cursors))}`)
    else if (r < 0.85)
      params.push(
        `${pickOf(rand, ['feed', 'limit', 'cursor'])}${pickOf(rand, ['[]', '[a]', '[0][1]', '.x'])}=${pickOf(rand, garbage)}`,
      )
    else if (r < 0.95)
      params.push(
        `${pickOf(rand, ['__proto__', 'constructor[prototype][x]', 'x'.repeat(200), 'feed%00'])}=1`,
      )
    else params.push(pickOf(rand, garbage))
  }
  if (rand() < 0.3) params.push(`feed=${encodeURIComponent(ours)}`)
  const method = rand() < 0.85 ? SKELETON : DESCRIBE
  const path = `${method}${rand() < 0.05 ? pickOf(rand, ['%', '%ZZ', '/', '.json']) : ''}?${params.join('&')}`
  if (rand() < 0.05) return { path: `${path}&pad=${'p'.repeat(20_000)}` }
  if (rand() < 0.08) {
    // bytes no client would send: invalid UTF-8 and control characters in the request target
    const bad = pickOf(rand, [[0xff, 0xfe], [0xc3, 0x28], [0x01], [0x7f], [0xe2, 0x82]])
    return { path, rawBytes: Buffer.concat([Buffer.from(`${path}&feed=`), Buffer.from(bad)]) }
  }
  return { path }
}
