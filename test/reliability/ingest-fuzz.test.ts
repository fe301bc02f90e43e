import { join } from 'node:path'
import { encode } from '@atproto/lex-cbor'
import { cidForCbor } from '@atproto/lex-data'
import { afterEach, describe, expect, it } from 'vitest'
import type { SkipReason } from '../../src/ingest/source.ts'
import { block, car, frame, startScriptedRelay } from '../support/firehose-relay.ts'
import {
  CLEAN,
  compareWithSource,
  DAY_MS,
  ingestConfig,
  lastPostStreamCursor,
  type RunningIngest,
  startIngest,
  storedCursor,
} from '../support/ingest.ts'
import { expectedPostUris, mulberry32, POST } from '../support/jetstream-events.ts'
import {
  type JetstreamServer,
  type ReplayFrame,
  startJetstreamServer,
} from '../support/jetstream-server.ts'
import { type Running, startServe, tempDbUrl } from '../support/serve.ts'
import { metric, PUBLISHER, pastStream, report, sized, tempDir, waitFor } from './harness.ts'

const CID = 'bafyreidwaivazkwu67xztlmuobx35hs2lnfh3kolmgfmucldvhd3sgzcqi'
/** the author of every fuzzed post: the generated stream never deactivates it */
const FUZZ_DID = 'did:plc:fuzzfuzzfuzzfuzzfuzzfuzz'
const SKIP_REASONS: SkipReason[] = ['malformed', 'oversized', 'too_old', 'future', 'unknown_type']

/** What must become of a fuzzed frame: a skip (counted), a stored post, or a cursor move only. */
type Outcome = SkipReason | 'post' | 'cursor'
interface Fuzzed {
  frame: string | Uint8Array
  outcome: Outcome
  /** the stored post's AT-URI, for 'post' */
  uri?: string
}

let server: JetstreamServer | undefined
let app: Running | undefined
let ingest: RunningIngest | undefined

afterEach(async () => {
  await app?.stop()
  app = undefined
  await ingest?.stop()
  ingest = undefined
  await server?.close()
  server = undefined
})

describe('fuzzed Jetstream frames', () => {
  const fuzzCount = sized(600, 6_000)

  it(`counts and skips ${fuzzCount} bad frames, stores the valid odd ones, and loses no event around them`, async () => {
    const seed = 4242
    const rand = mulberry32(seed)
    const count = sized(6_000, 60_000)
    const stepUs = 1000
    const base = pastStream(count, 67, stepUs)
    const frames: ReplayFrame[] = []
    const tally = new Map<Outcome, number>()
    const fuzzPosts: string[] = []
    const samples = new Map<string, string>()
    // a fuzzed frame after every few events, in the time of the event before it
    const every = Math.max(1, Math.floor(count / fuzzCount))
    for (const [i, event] of base.entries()) {
      frames.push(event)
      if (i % every !== every - 1) continue
      const { name, fuzzed } = fuzzJetstream(rand, event.time_us, `fz${i}`)
      frames.push(fuzzed.frame)
      tally.set(fuzzed.outcome, (tally.get(fuzzed.outcome) ?? 0) + 1)
      if (fuzzed.uri) fuzzPosts.push(fuzzed.uri)
      samples.set(name, fuzzed.outcome)
    }

    server = await startJetstreamServer({ events: frames })
    app = await startServe(
      [
        '--source',
        'jetstream',
        '--jetstream-url',
        server.url,
        '--db',
        tempDbUrl(),
        '--hostname',
        'localhost',
        '--publisher-did',
        PUBLISHER,
      ],
      {},
    )
    const client = app.ctx.db.$client
    const last = lastPostStreamCursor(frames)
    await waitFor(async () => (await storedCursor(client).catch(() => null)) === last, 'replay', {
      timeoutMs: 120_000,
    })

    // no bad frame broke the connection
    expect(server.connections).toHaveLength(1)
    const expected = expectedPostUris(base, DAY_MS)
    for (const uri of fuzzPosts) expected.add(uri)
    expect(await compareWithSource(client, expected)).toMatchObject(CLEAN)

    const metrics = await (await fetch(`${app.url}/metrics`)).text()
    const skipped = Object.fromEntries(
      SKIP_REASONS.map((r) => [
        r,
        metric(metrics, 'feedgen_events_skipped_total', `reason="${r}"`),
      ]),
    )
    const baseTooOld = base.filter(
      (e) =>
        e.commit?.collection === POST &&
        e.commit.operation !== 'delete' &&
        Date.parse(String(e.commit.record?.createdAt)) < Date.now() - DAY_MS,
    ).length
    expect(skipped).toEqual({
      malformed: tally.get('malformed') ?? 0,
      oversized: tally.get('oversized') ?? 0,
      too_old: baseTooOld + (tally.get('too_old') ?? 0),
      future: tally.get('future') ?? 0,
      unknown_type: 0,
    })
    // the sample covers every kind of damage (seeded: a failure names the seed to replay)
    expect(samples.size, `seed ${seed}`).toBe(FUZZERS.length)
    report('jetstream fuzz', {
      seed,
      frames: frames.length,
      fuzzed: [...tally.values()].reduce((a, b) => a + b, 0),
      ...Object.fromEntries(tally),
    })
  }, 300_000)
})

describe('fuzzed firehose frames', () => {
  const fuzzCount = sized(300, 3_000)

  it(`counts and skips ${fuzzCount} bad CBOR frames and ops, and stores exactly the valid posts`, async () => {
    const seed = 9001
    const rand = mulberry32(seed)
    const frames: Uint8Array[] = []
    const tally = new Map<Outcome, number>()
    const live = new Set<string>()
    const samples = new Set<string>()
    let seq = 0
    const time = new Date(Date.now() - 60_000).toISOString()
    const valid = sized(1_500, 15_000)
    const every = Math.max(1, Math.floor(valid / fuzzCount))
    for (let i = 0; i < valid; i++) {
      const rkey = `ok${i}`
      seq++
      const post = await block(postRecord(`Valid post number ${i} from the relay, in English.`))
      frames.push(commitFrame(seq, FUZZ_DID, [createOp(rkey, post.cid)], await car([post]), time))
      live.add(uriOf(rkey))
      if (i % 97 === 96) {
        // and now and then a delete of a post stored before
        seq++
        const gone = `ok${i - 50}`
        frames.push(
          commitFrame(
            seq,
            FUZZ_DID,
            [{ action: 'delete', path: `${POST}/${gone}`, cid: null }],
            await car([post]),
            time,
          ),
        )
        live.delete(uriOf(gone))
      }
      if (i % every !== every - 1) continue
      const [name, fuzz] = pickOf(rand, FIREHOSE_FUZZERS)
      const fuzzed = await fuzz(rand, () => ++seq, `fz${i}`, time)
      frames.push(fuzzed.frame)
      samples.add(name)
      for (const outcome of fuzzed.outcomes) tally.set(outcome, (tally.get(outcome) ?? 0) + 1)
      if (fuzzed.uri) live.add(fuzzed.uri)
    }

    const relay = await startScriptedRelay([frames], { hangUp: false })
    try {
      const dir = tempDir()
      ingest = await startIngest(
        `file:${join(dir, 'feedgen.db')}`,
        ingestConfig([], { source: 'firehose', firehoseUrl: relay.url }),
      )
      await ingest.untilCursor(seq, 120_000)
      expect(relay.dials).toHaveLength(1)
      expect(await compareWithSource(ingest.handle.client, live)).toMatchObject(CLEAN)
      expect(Object.fromEntries(ingest.skips)).toEqual(
        Object.fromEntries([...tally].filter(([o]) => o !== 'post' && o !== 'cursor')),
      )
      expect(samples.size, `seed ${seed}`).toBe(FIREHOSE_FUZZERS.length)
      report('firehose fuzz', { seed, frames: frames.length, ...Object.fromEntries(tally) })
    } finally {
      await relay.close()
    }
  }, 300_000)
})

type Rand = () => number

const pickOf = <T>(rand: Rand, xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T

function randomBytes(rand: Rand, n: number): Uint8Array {
  return Uint8Array.from({ length: n }, () => Math.floor(rand() * 256))
}

interface FuzzPost {
  [key: string]: unknown
  commit: { [key: string]: unknown; record: Record<string, unknown> }
}

/** A valid Jetstream post create by FUZZ_DID, as a mutable object. */
function validPost(timeUs: number, rkey: string): FuzzPost {
  return {
    did: FUZZ_DID,
    time_us: timeUs,
    kind: 'commit',
    commit: {
      rev: '3lfuzzfuzzfuz',
      operation: 'create',
      collection: POST,
      rkey,
      cid: CID,
      record: {
        $type: POST,
        text: 'Fuzzing the ingest loop with every kind of broken frame today.',
        createdAt: new Date(Math.floor(timeUs / 1000) - 500).toISOString(),
        langs: ['en'],
      },
    },
  }
}

const ANY_URI = `at://${FUZZ_DID}/${POST}/abc`
/** Each required field with values of the wrong type or shape for it. */
const WRONG: [path: string[], values: unknown[]][] = [
  [['did'], [5, null, true, [], {}, '']],
  [['time_us'], ['123', 1.5, null, [], {}, true, 2 ** 60]],
  [['commit'], [5, null, 'x', [], true]],
  [
    ['commit', 'operation'],
    [5, null, [], {}, ''],
  ],
  [
    ['commit', 'collection'],
    [5, null, [], {}, true],
  ],
  [
    ['commit', 'rkey'],
    [5, null, [], {}, true],
  ],
  [
    ['commit', 'cid'],
    [5, null, [], {}, true, '', 'bafy', 'Qm', 'x'.repeat(60)],
  ],
  [
    ['commit', 'record'],
    [5, null, 'x', [], true],
  ],
  [
    ['commit', 'record', '$type'],
    [5, null, [], {}, ''],
  ],
  [
    ['commit', 'record', 'text'],
    [5, null, [], {}, true],
  ],
  [
    ['commit', 'record', 'createdAt'],
    [5, null, [], {}, '', 'not a date'],
  ],
  [
    ['commit', 'record', 'langs'],
    [5, 'en', [5], [''], ['a', 'b', 'c', 'd'], {}, ['x'.repeat(129)]],
  ],
  [
    ['commit', 'record', 'reply'],
    [
      5,
      'x',
      { root: 5 },
      { root: { uri: 'nope' }, parent: { uri: 'nope' } },
      { root: { uri: ANY_URI } },
    ],
  ],
]
/** the fields whose absence makes a post frame malformed */
const REQUIRED = WRONG.map(([path]) => path).filter(
  (p) => !['langs', 'reply'].includes(p.at(-1) ?? ''),
)
const BAD_DIDS = [
  'DID:PLC:abc',
  'did:PLC:abc',
  'did:plc:abc def',
  'did:plc:abc/xyz',
  'did:plc:abc?x=1',
  'did:plc:abc#frag',
  'did:plc:',
  'did:',
  'at://did:plc:abc',
  'did:plc:ab%',
  'did:plc:æøå',
  `did:plc:${'a'.repeat(3000)}`,
]
const BAD_RKEYS = [
  '',
  '.',
  '..',
  'a/b',
  'a b',
  'æ',
  'a?b',
  'a#b',
  '%2F',
  'x'.repeat(513),
  'a\u0000b',
]

type Fuzzer = (rand: Rand, timeUs: number, rkey: string) => Fuzzed
const json = (v: unknown): string => JSON.stringify(v)
const uriOf = (rkey: string) => `at://${FUZZ_DID}/${POST}/${rkey}`

/** Each kind of damage, named; `fuzzJetstream` picks one at random per frame. */
const FUZZERS: [string, Fuzzer][] = [
  [
    'random bytes',
    (r) => ({ frame: randomBytes(r, Math.floor(r() * 3000)), outcome: 'malformed' }),
  ],
  [
    'json that is no object',
    (r) => ({ frame: json(pickOf(r, [1, 'x', null, [1, 2], true, []])), outcome: 'malformed' }),
  ],
  [
    'truncated json',
    (r, t, k) => {
      const s = json(validPost(t, k))
      return { frame: s.slice(0, Math.floor(r() * (s.length - 1))), outcome: 'malformed' }
    },
  ],
  [
    'invalid utf-8 in the text',
    (r, t, k) => {
      const [head, tail] = json(validPost(t, k)).split('Fuzzing')
      const bad = pickOf(r, [[0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80]])
      const frame = Buffer.concat([
        Buffer.from(head ?? ''),
        Buffer.from(bad),
        Buffer.from(`x${tail}`),
      ])
      return { frame, outcome: 'malformed' }
    },
  ],
  [
    'wrong type at a required field',
    (r, t, k) => {
      const p = validPost(t, k)
      const [field, values] = pickOf(r, WRONG)
      setPath(p, field, pickOf(r, values))
      return { frame: json(p), outcome: 'malformed' }
    },
  ],
  [
    'missing required field',
    (r, t, k) => {
      const p = validPost(t, k)
      setPath(p, pickOf(r, REQUIRED), undefined)
      return { frame: json(p), outcome: 'malformed' }
    },
  ],
  [
    'non-canonical did',
    (r, t, k) => ({
      frame: json({ ...validPost(t, k), did: pickOf(r, BAD_DIDS) }),
      outcome: 'malformed',
    }),
  ],
  [
    'non-canonical rkey',
    (r, t) => ({ frame: json(validPost(t, pickOf(r, BAD_RKEYS))), outcome: 'malformed' }),
  ],
  [
    'another type of record under the post collection',
    (r, t, k) => {
      const p = validPost(t, k)
      p.commit.record.$type = pickOf(r, [
        'app.bsky.feed.like',
        'app.bsky.feed.post#main',
        'APP.BSKY.FEED.POST',
        'com.example.unknown',
      ])
      return { frame: json(p), outcome: 'malformed' }
    },
  ],
  [
    'reply to something that is no AT-URI',
    (r, t, k) => {
      const p = validPost(t, k)
      const uri = pickOf(r, [
        'https://example.com/x',
        'at://',
        `at://${FUZZ_DID}/${POST}/a b`,
        'x'.repeat(9000),
      ])
      p.commit.record.reply = { root: { uri, cid: CID }, parent: { uri, cid: CID } }
      return { frame: json(p), outcome: 'malformed' }
    },
  ],
  [
    'text over the lexicon limit',
    (r, t, k) => {
      const p = validPost(t, k)
      p.commit.record.text = 'å'.repeat(1501 + Math.floor(r() * (r() < 0.1 ? 500_000 : 3000)))
      return { frame: json(p), outcome: 'oversized' }
    },
  ],
  [
    'createdAt long ago or far ahead',
    (r, t, k) => {
      const p = validPost(t, k)
      const old = r() < 0.5
      p.commit.record.createdAt = old ? '1999-01-01T00:00:00.000Z' : '2999-01-01T00:00:00.000Z'
      return { frame: json(p), outcome: old ? 'too_old' : 'future' }
    },
  ],
  [
    'time_us not positive or far ahead of the clock',
    (r, t, k) => {
      const ahead = r() < 0.5
      const timeUs = ahead ? (Date.now() + 86_400_000) * 1000 : pickOf(r, [0, -1, -t])
      return { frame: json(validPost(timeUs, k)), outcome: ahead ? 'future' : 'malformed' }
    },
  ],
  [
    'unknown operation',
    (r, t, k) => {
      const p = validPost(t, k)
      p.commit.operation = pickOf(r, ['frob', 'CREATE', 'remove'])
      return { frame: json(p), outcome: 'malformed' }
    },
  ],
  [
    'account event of the wrong shape',
    (r, t) => {
      const account = pickOf(r, [{ active: 'no' }, {}, 5, { active: null }])
      return {
        frame: json({ did: FUZZ_DID, time_us: t, kind: 'account', account }),
        outcome: 'malformed',
      }
    },
  ],
  [
    'deeply nested json',
    (r) => {
      const depth = 1000 + Math.floor(r() * 100_000)
      return { frame: `${'['.repeat(depth)}${']'.repeat(depth)}`, outcome: 'malformed' }
    },
  ],
  // frames that look odd but are valid: they must not be counted as skipped
  [
    'record of another collection',
    (r, t, k) => {
      const p = validPost(t, k)
      p.commit.collection = pickOf(r, ['app.bsky.feed.like', 'com.example.unknown.thing'])
      return { frame: json(p), outcome: 'cursor' }
    },
  ],
  [
    'an event kind from the future',
    (r, t) => ({
      frame: json({ did: FUZZ_DID, time_us: t, kind: pickOf(r, ['sync', 'labels', 'x']) }),
      outcome: 'cursor',
    }),
  ],
  [
    'valid post with deep unknown fields and odd text',
    (r, t, k) => {
      const p = validPost(t, k)
      p.commit.record.text = pickOf(r, [
        'a'.repeat(3000),
        'NUL \u0000 in the middle',
        'lone \ud800 surrogate',
        'עברית مرحبا RTL \u202e override',
        '😀'.repeat(750),
        '',
      ])
      p.commit.record.langs = pickOf(r, [['en-US', 'nb'], [], ['x-klingon']])
      p.commit.record.unknownField = '__DEEP__'
      const depth = 1000 + Math.floor(r() * 20_000)
      const deep = `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`
      return { frame: json(p).replace('"__DEEP__"', deep), outcome: 'post', uri: uriOf(k) }
    },
  ],
]

function fuzzJetstream(rand: Rand, timeUs: number, rkey: string): { name: string; fuzzed: Fuzzed } {
  const [name, fuzz] = pickOf(rand, FUZZERS)
  return { name, fuzzed: fuzz(rand, timeUs, rkey) }
}

function setPath(obj: FuzzPost, path: string[], value: unknown): void {
  let at: Record<string, unknown> = obj
  for (const key of path.slice(0, -1)) at = at[key] as Record<string, unknown>
  const last = path.at(-1) as string
  if (value === undefined) delete at[last]
  else at[last] = value
}

/** A fuzzed firehose frame: the skips it must cause (one per bad op), a post it must store. */
interface FuzzedFrame {
  frame: Uint8Array
  outcomes: Outcome[]
  uri?: string
}
type FrameFuzzer = (
  rand: Rand,
  nextSeq: () => number,
  rkey: string,
  time: string,
) => Promise<FuzzedFrame>

function postRecord(text: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  return { $type: POST, text, createdAt: new Date().toISOString(), ...over }
}

const createOp = (rkey: string, cid: unknown) => ({
  action: 'create',
  path: `${POST}/${rkey}`,
  cid,
})

function commitFrame(
  seq: unknown,
  repo: unknown,
  ops: unknown,
  blocks: unknown,
  time: unknown,
): Uint8Array {
  return frame('#commit', {
    seq,
    rebase: false,
    tooBig: false,
    repo,
    commit: null,
    rev: '3lfuzzfuzzfuz',
    since: null,
    blocks,
    ops,
    blobs: [],
    time,
  })
}

/** A commit of one post whose record is `record` (encoded as it is). */
async function postCommit(seq: number, rkey: string, record: unknown, time: string) {
  const b = await block(record)
  return commitFrame(seq, FUZZ_DID, [createOp(rkey, b.cid)], await car([b]), time)
}

/** CBOR maps nested `depth` deep, spliced in as the value of the record's `deep` field. */
async function deepRecord(depth: number) {
  const bytes = Buffer.from((await block(postRecord('Deep but fine.', { deep: 0 }))).bytes)
  const key = bytes.indexOf(Buffer.from([0x64, 0x64, 0x65, 0x65, 0x70]))
  const nested = Buffer.alloc(depth * 3 + 1, 1)
  for (let i = 0; i < depth; i++) nested.set([0xa1, 0x61, 0x61], i * 3)
  return Buffer.concat([bytes.subarray(0, key + 5), nested, bytes.subarray(key + 6)])
}

const FIREHOSE_FUZZERS: [string, FrameFuzzer][] = [
  [
    'random bytes',
    async (r) => ({ frame: randomBytes(r, 1 + Math.floor(r() * 2000)), outcomes: ['malformed'] }),
  ],
  [
    'cut short',
    async (r, next, k, t) => {
      const whole = await postCommit(next(), k, postRecord('cut'), t)
      return {
        frame: whole.subarray(0, 1 + Math.floor(r() * (whole.length - 2))),
        outcomes: ['malformed'],
      }
    },
  ],
  [
    'no usable seq',
    async (r, _next, k, t) => ({
      frame: commitFrame(
        pickOf(r, [undefined, '7', -3, null, { n: 1 }]),
        FUZZ_DID,
        [createOp(k, null)],
        new Uint8Array(),
        t,
      ),
      outcomes: ['malformed'],
    }),
  ],
  [
    'body nested too deep',
    async () => ({
      frame: Buffer.concat([encode({ op: 1, t: '#commit' }), Buffer.alloc(60_000, 0x81)]),
      outcomes: ['malformed'],
    }),
  ],
  [
    'bad time',
    async (r, next, k, _t) => ({
      frame: commitFrame(
        next(),
        FUZZ_DID,
        [createOp(k, null)],
        new Uint8Array(),
        pickOf(r, [5, 'yesterday', null, '']),
      ),
      outcomes: ['malformed'],
    }),
  ],
  [
    'repo that is no canonical DID',
    async (r, next, k, t) => {
      const b = await block(postRecord('x'))
      return {
        frame: commitFrame(
          next(),
          pickOf(r, [...BAD_DIDS, 5, null]),
          [createOp(k, b.cid)],
          await car([b]),
          t,
        ),
        outcomes: ['malformed'],
      }
    },
  ],
  [
    'ops or blocks of the wrong type',
    async (r, next, k, t) => {
      const b = await block(postRecord('x'))
      const bad = r() < 0.5
      return {
        frame: commitFrame(
          next(),
          FUZZ_DID,
          bad ? pickOf(r, [5, 'x', {}, null]) : [createOp(k, b.cid)],
          bad ? await car([b]) : pickOf(r, [5, 'x', [], null]),
          t,
        ),
        outcomes: ['malformed'],
      }
    },
  ],
  [
    'op with a bad path or action',
    async (r, next, k, t) => {
      const b = await block(postRecord('x'))
      const op =
        r() < 0.5
          ? {
              action: 'create',
              path: pickOf(r, [
                `${POST}`,
                `${POST}/`,
                `/${k}`,
                `${POST}/a/b`,
                ...BAD_RKEYS.map((x) => `${POST}/${x}`),
                5,
              ]),
              cid: b.cid,
            }
          : { action: pickOf(r, ['frob', 5, null, 'CREATE']), path: `${POST}/${k}`, cid: b.cid }
      return {
        frame: commitFrame(next(), FUZZ_DID, [op], await car([b]), t),
        outcomes: ['malformed'],
      }
    },
  ],
  [
    'record missing, forged or unreadable',
    async (r, next, k, t) => {
      const b = await block(postRecord('x'))
      const other = await block(postRecord('other bytes'))
      const which = Math.floor(r() * 4)
      const [cid, blocks] =
        which === 0
          ? [null, await car([b])]
          : which === 1
            ? [b.cid, await car([other])]
            : which === 2
              ? [b.cid, await car([{ cid: b.cid, bytes: other.bytes }])]
              : [b.cid, randomBytes(r, 200)]
      return {
        frame: commitFrame(next(), FUZZ_DID, [createOp(k, cid)], blocks, t),
        outcomes: ['malformed'],
      }
    },
  ],
  [
    'record that is no valid post',
    async (r, next, k, t) => {
      const record = pickOf(r, [
        postRecord('x', { $type: 'app.bsky.feed.like' }),
        postRecord('x', { $type: undefined }),
        postRecord('x', { text: 5 }),
        postRecord('x', { createdAt: 'soon' }),
        postRecord('x', { langs: 'en' }),
        postRecord('x', { reply: { root: { uri: 'https://x' }, parent: { uri: 'https://x' } } }),
        'just a string',
        [1, 2, 3],
      ])
      return { frame: await postCommit(next(), k, record, t), outcomes: ['malformed'] }
    },
  ],
  [
    'text over the limit',
    async (_r, next, k, t) => ({
      frame: await postCommit(next(), k, postRecord('ø'.repeat(1501)), t),
      outcomes: ['oversized'],
    }),
  ],
  [
    'createdAt long ago or far ahead',
    async (r, next, k, t) => {
      const old = r() < 0.5
      const createdAt = old ? '1999-01-01T00:00:00.000Z' : '2999-01-01T00:00:00.000Z'
      return {
        frame: await postCommit(next(), k, postRecord('x', { createdAt }), t),
        outcomes: [old ? 'too_old' : 'future'],
      }
    },
  ],
  [
    'record nested too deep',
    async (_r, next, k, t) => {
      const bytes = await deepRecord(20_000)
      const cid = await cidForCbor(bytes)
      return {
        frame: commitFrame(next(), FUZZ_DID, [createOp(k, cid)], await car([{ cid, bytes }]), t),
        outcomes: ['malformed'],
      }
    },
  ],
  [
    'unknown frame type',
    async (_r, next, _k, t) => ({
      frame: frame(`#${'someday'}`, { seq: next(), time: t }),
      outcomes: ['unknown_type'],
    }),
  ],
  [
    'account frame of the wrong shape',
    async (r, next, _k, t) => {
      const body =
        r() < 0.5
          ? { did: pickOf(r, BAD_DIDS), active: false }
          : { did: FUZZ_DID, active: pickOf(r, ['no', null, 1]) }
      return {
        frame: frame('#account', { seq: next(), time: t, ...body }),
        outcomes: ['malformed'],
      }
    },
  ],
  // odd but valid: nothing is skipped
  [
    'identity and info frames, records of other collections',
    async (r, next, k, t) => {
      const b = await block({ $type: 'app.bsky.feed.like', createdAt: t })
      const like = { action: 'create', path: `app.bsky.feed.like/${k}`, cid: b.cid }
      return {
        frame: pickOf(r, [
          frame('#identity', { seq: next(), did: FUZZ_DID, time: t }),
          frame('#info', { name: 'OutdatedCursor' }),
          commitFrame(next(), FUZZ_DID, [like], await car([b]), t),
        ]),
        outcomes: ['cursor'],
      }
    },
  ],
  [
    'one good op beside one bad op',
    async (r, next, k, t) => {
      const good = await block(postRecord('The good half of a mixed commit, in plain English.'))
      const badOp = pickOf(r, [
        createOp(`${k}x`, null),
        { action: 'frob', path: `${POST}/${k}y`, cid: good.cid },
      ])
      return {
        frame: commitFrame(next(), FUZZ_DID, [badOp, createOp(k, good.cid)], await car([good]), t),
        outcomes: ['malformed'],
        uri: uriOf(k),
      }
    },
  ],
  [
    'valid post nested deep but within bounds',
    async (_r, next, k, t) => {
      const bytes = await deepRecord(500)
      const cid = await cidForCbor(bytes)
      return {
        frame: commitFrame(next(), FUZZ_DID, [createOp(k, cid)], await car([{ cid, bytes }]), t),
        outcomes: ['post'],
        uri: uriOf(k),
      }
    },
  ],
]
