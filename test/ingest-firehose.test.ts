import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Cid } from '@atproto/lex-data'
import { ErrorFrame } from '@atproto/xrpc-server'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDb, migrateDb } from '../src/db/index.ts'
import { Channel } from '../src/ingest/channel.ts'
import type { IngestEvent, PostCreate } from '../src/ingest/events.ts'
import { createFirehoseSource } from '../src/ingest/firehose.ts'
import { type IngestConfig, runIngest } from '../src/ingest/index.ts'
import type { EventSink, SkipReason, Source } from '../src/ingest/source.ts'
import { block, car, frame, startScriptedRelay } from './support/firehose-relay.ts'
import { captureLogger, type LogLine } from './support/logs.ts'
import {
  createAccount,
  createPost,
  startPdsNetwork,
  type TestAccount,
  type TestNetworkNoAppView,
} from './support/network.ts'

const POST = 'app.bsky.feed.post'
const LIMITS = { maxPostAgeMs: 24 * 3600_000 }

type Skip = { reason: SkipReason; cause: unknown }

interface Collected {
  events: IngestEvent[]
  skips: Skip[]
  logs: LogLine[]
  /** how often the sink answered false */
  fullCount: number
  /** pushes that came while the sink was full: must stay 0 */
  pushesWhileFull: number
}

/** Polls `done` until it holds; throws after `timeoutMs`, with `detail()` in the message. */
async function until(
  done: () => boolean | Promise<boolean>,
  { timeoutMs = 20_000, detail = (): string => '' } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting after ${timeoutMs} ms ${detail()}`)
    await sleep(10)
  }
}

interface Collecting {
  out: Collected
  /** resolves once `done(out)` holds */
  waitFor(done: (out: Collected) => boolean): Promise<void>
  /** aborts the source, waits for `run` to return, and takes what is left in the channel */
  stop(): Promise<Collected>
}

/** Runs `source` into a real Channel that a consumer drains into `out.events`. */
function startCollecting(
  source: Source,
  opts: { cursor: number | null; capacity?: number; consumerDelayMs?: number },
): Collecting {
  const channel = new Channel<IngestEvent>(opts.capacity ?? 10_000)
  const out: Collected = { events: [], skips: [], logs: [], fullCount: 0, pushesWhileFull: 0 }
  let full = false
  const sink: EventSink = {
    push(event) {
      if (full) out.pushesWhileFull++
      full = !channel.push(event)
      if (full) out.fullCount++
      return !full
    },
    writable: () =>
      channel.writable().then(() => {
        full = false
      }),
  }
  const ac = new AbortController()
  const running = source.run({
    cursor: opts.cursor,
    sink,
    signal: ac.signal,
    logger: captureLogger(out.logs),
    onSkip: (reason, cause) => out.skips.push({ reason, cause }),
  })
  const consuming = (async () => {
    while (!ac.signal.aborted) {
      out.events.push(...(await channel.take(64, 5, ac.signal)))
      if (opts.consumerDelayMs) await sleep(opts.consumerDelayMs)
    }
  })()
  return {
    out,
    waitFor: (done) =>
      until(() => done(out), {
        detail: () => `; events: ${out.events.map((e) => `${e.kind}@${e.cursor}`).join(' ')}`,
      }),
    async stop() {
      ac.abort()
      await running
      await consuming
      channel.close()
      out.events.push(...(await channel.take(Number.MAX_SAFE_INTEGER, 0)))
      return out
    },
  }
}

async function collect(
  source: Source,
  opts: { cursor: number | null; capacity?: number; consumerDelayMs?: number },
  done: (out: Collected) => boolean,
): Promise<Collected> {
  const run = startCollecting(source, opts)
  try {
    await run.waitFor(done)
  } finally {
    await run.stop()
  }
  return run.out
}

const postsOf = (events: IngestEvent[]) => events.filter((e): e is PostCreate => e.kind === 'post')

describe('firehose source against a real PDS', () => {
  type Posted = { uri: string; cid: string; author: string; text: string; createdAt: string }
  let network: TestNetworkNoAppView
  let url: string
  let alice: TestAccount
  let bob: TestAccount
  let lastSeq: number
  let posted: Record<'nb' | 'sv' | 'en' | 'reply', Posted>
  let batch: { uri: string; cid: string }[]
  let likeUri: string

  const source = (stallTimeoutMs = 30_000, collections = [POST]) =>
    createFirehoseSource({ url, stallTimeoutMs, collections, limits: LIMITS })
  const reachedSeq = (seq: number) => (out: Collected) => (out.events.at(-1)?.cursor ?? 0) >= seq
  const currentSeq = async () => (await network.pds.ctx.sequencer.curr()) ?? 0
  const post = async (
    who: TestAccount,
    text: string,
    langs: string[],
    reply?: { uri: string; cid: string },
  ): Promise<Posted> => {
    const createdAt = new Date().toISOString()
    const replyRef = reply && { root: reply, parent: reply }
    const ref = await who.agent.post({ text, langs, createdAt, reply: replyRef })
    return { ...ref, author: who.did, text, createdAt }
  }

  beforeAll(async () => {
    network = await startPdsNetwork()
    url = network.pds.url.replace(/^http/, 'ws')
    alice = await createAccount(network, 'alice')
    bob = await createAccount(network, 'bob')
    const nb = await post(
      alice,
      'Jeg gleder meg til å gå på tur i fjellet i helgen, og håper det blir fint vær.',
      ['nb'],
    )
    const sv = await post(
      bob,
      'Jag ska baka kanelbullar i eftermiddag och bjuda grannarna på fika.',
      ['sv'],
    )
    const en = await post(
      alice,
      'The library opens at nine tomorrow, so I will bring the books back then.',
      ['en'],
    )
    const reply = await post(
      bob,
      'Så fint, god tur! Jeg var der i fjor og det var helt nydelig.',
      ['nb'],
      nb,
    )
    posted = { nb, sv, en, reply }
    likeUri = (await bob.agent.like(nb.uri, nb.cid)).uri
    await alice.agent.deletePost(en.uri)
    // three posts in one commit: one frame, three events
    const { data } = await alice.agent.com.atproto.repo.applyWrites({
      repo: alice.did,
      writes: ['én', 'to', 'tre'].map((word) => ({
        $type: 'com.atproto.repo.applyWrites#create' as const,
        collection: POST,
        value: { $type: POST, text: `Telling: ${word}`, createdAt: new Date().toISOString() },
      })),
    })
    batch = (data.results ?? []).map((r) => r as { uri: string; cid: string })
    lastSeq = await currentSeq()
  })

  afterAll(async () => {
    await network?.close()
  })

  let full: Collected
  it('turns the posts, replies and deletes of a real PDS into events with the record fields', async () => {
    full = await collect(source(), { cursor: 0 }, reachedSeq(lastSeq))
    expect(full.skips).toEqual([])
    const posts = new Map(postsOf(full.events).map((p) => [p.uri, p]))
    for (const [key, ref] of Object.entries(posted)) {
      expect(posts.get(ref.uri), key).toMatchObject({
        cid: ref.cid,
        author: ref.author,
        text: ref.text,
        createdAt: Date.parse(ref.createdAt),
      })
    }
    expect(posts.get(posted.nb.uri)).toMatchObject({
      declaredLangs: ['nb'],
      replyRoot: null,
      replyParent: null,
    })
    expect(posts.get(posted.sv.uri)?.declaredLangs).toEqual(['sv'])
    expect(posts.get(posted.reply.uri)).toMatchObject({
      declaredLangs: ['nb'],
      replyRoot: posted.nb.uri,
      replyParent: posted.nb.uri,
    })
    // the languages come from src/ingest/language.ts: the declared one is among them
    expect(posts.get(posted.nb.uri)?.langs).toContain('nb')
    expect(posts.get(posted.sv.uri)?.langs).toContain('sv')
    expect(posts.get(posted.en.uri)?.langs).toContain('en')
    expect(posts.get(posted.reply.uri)?.langs).toContain('nb')
    for (const p of posts.values()) expect(Math.abs(p.time - Date.now())).toBeLessThan(60_000)

    const deletes = full.events.filter((e) => e.kind === 'delete')
    expect(deletes).toMatchObject([{ collection: POST, uri: posted.en.uri }])
    // likes are not among the collections: the like moved the cursor and nothing else
    expect(JSON.stringify(full.events)).not.toContain(likeUri)

    const accounts = full.events.filter((e) => e.kind === 'account')
    expect(accounts).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ did: alice.did, active: true, status: null }),
        expect.objectContaining({ did: bob.did, active: true, status: null }),
      ]),
    )
  })

  it('hands every frame on with its seq, once, in order', () => {
    const cursors = full.events.map((e) => e.cursor)
    // the PDS numbers its frames 1..lastSeq: each one became at least one event
    expect([...new Set(cursors)]).toEqual(Array.from({ length: lastSeq }, (_, i) => i + 1))
    // the three-post commit is one frame: all but its last event carry seq - 1
    const batchEvents = batch.map((ref) => full.events.find((e) => 'uri' in e && e.uri === ref.uri))
    const seq = batchEvents.at(-1)?.cursor ?? 0
    expect(batchEvents.map((e) => e?.cursor)).toEqual([seq - 1, seq - 1, seq])
    const rest = full.events.filter((e) => !batchEvents.slice(0, -1).includes(e))
    for (let i = 1; i < rest.length; i++) {
      expect(rest[i]?.cursor).toBeGreaterThan(rest[i - 1]?.cursor ?? 0)
    }
  })

  it('resumes after a cursor with exactly the later frames', async () => {
    const cursor = postsOf(full.events).find((p) => p.uri === posted.sv.uri)?.cursor ?? 0
    const resumed = await collect(source(), { cursor }, reachedSeq(lastSeq))
    expect(resumed.events[0]?.cursor).toBe(cursor + 1)
    expect(resumed.events).toEqual(full.events.filter((e) => e.cursor > cursor))
  })

  it('only turns the configured collections into events', async () => {
    const likes = await collect(
      source(30_000, ['app.bsky.feed.like']),
      { cursor: 0 },
      reachedSeq(lastSeq),
    )
    expect(postsOf(likes.events)).toEqual([])
    expect(likes.events.filter((e) => e.kind === 'delete')).toEqual([])
    expect(new Set(likes.events.map((e) => e.cursor)).size).toBe(lastSeq)
  })

  it('stops reading while the sink is full and loses nothing', async () => {
    const slow = await collect(
      source(),
      { cursor: 0, capacity: 2, consumerDelayMs: 10 },
      reachedSeq(lastSeq),
    )
    expect(slow.fullCount).toBeGreaterThan(5)
    expect(slow.pushesWhileFull).toBe(0)
    expect(slow.events).toEqual(full.events)
  })

  it('reconnects when the stream stalls and resumes at the newest seq handed on', async () => {
    const text = 'Nok en dag med regn i Bergen, men kaffen smaker godt likevel.'
    const connects = (out: Collected) => out.logs.filter((l) => l.msg === 'firehose connected')
    const from = await currentSeq()
    const run = startCollecting(source(300), { cursor: from - 3 })
    let ref: { uri: string; cid: string }
    try {
      // the PDS has nothing to send: the watchdog drops the quiet connection and dials again
      await run.waitFor((out) => connects(out).length >= 2)
      ref = await createPost(alice, text, { langs: ['nb'] })
      await run.waitFor((out) => postsOf(out.events).some((p) => p.uri === ref.uri))
    } finally {
      await run.stop()
    }
    const live = run.out
    // the first dial asked for the given cursor, every later one for the newest seq handed on
    const dials = connects(live).map((l) => l.cursor)
    expect(dials.length).toBeGreaterThanOrEqual(2)
    expect(dials).toEqual([from - 3, ...dials.slice(1).map(() => from)])
    const replayed = live.events.filter((e) => e.cursor <= from).map((e) => e.cursor)
    expect([...new Set(replayed)]).toEqual([from - 2, from - 1, from])
    expect(live.events.filter((e) => e.cursor > from)).toMatchObject([
      { kind: 'post', uri: ref.uri, text },
    ])
    expect(live.logs.some((l) => l.msg === 'firehose connection lost')).toBe(true)
  })

  it('feeds runIngest, which stores exactly the live posts in libSQL, across a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'feedgen-firehose-'))
    const handle = await createDb(`file:${join(dir, 'db.sqlite')}`)
    const config: IngestConfig = {
      source: 'firehose',
      firehoseUrl: url,
      jetstreamUrls: [],
      jetstreamCompress: false,
      channelSize: 16,
      batchSize: 8,
      batchMs: 20,
      maxPostAgeMs: LIMITS.maxPostAgeMs,
      stallTimeoutMs: 30_000,
      collections: [POST],
    }
    const cursorRows = async () =>
      (await handle.client.execute('SELECT source, cursor FROM cursors')).rows.map((r) => ({
        ...r,
      }))
    const committed = async () => Number((await cursorRows())[0]?.cursor ?? 0)
    const ingest = async <T>(work: () => Promise<T>): Promise<T> => {
      const logs: LogLine[] = []
      const ac = new AbortController()
      const running = runIngest({ db: handle.db, logger: captureLogger(logs) }, config, ac.signal)
      try {
        await until(() => logs.some((l) => l.msg === 'firehose connected'))
        const result = await work()
        const seq = await currentSeq()
        await until(async () => (await committed()) >= seq)
        return result
      } finally {
        ac.abort()
        await running
      }
    }
    try {
      await migrateDb(handle.db)
      // a new database has no cursor: ingest starts live, so only what follows is stored
      const { kept, reply } = await ingest(async () => {
        const gone = await post(alice, 'Denne posten blir slettet straks etterpå.', ['nb'])
        const kept = await post(bob, 'Den här posten får stanna kvar i flödet.', ['sv'])
        const reply = await post(alice, 'Ja, den blir stående!', ['nb'], kept)
        await bob.agent.like(kept.uri, kept.cid)
        await alice.agent.deletePost(gone.uri)
        return { kept, reply }
      })
      // written while ingest is down: the restart resumes from the committed cursor
      const later = await post(bob, 'Written while the ingester was down, stored after it.', ['en'])
      await bob.agent.deletePost(kept.uri)
      await ingest(async () => undefined)

      const rows = await handle.client.execute(
        'SELECT uri, author, text, reply_parent FROM posts ORDER BY uri',
      )
      const live = [reply, later].sort((a, b) => a.uri.localeCompare(b.uri))
      expect(rows.rows.map((r) => ({ ...r }))).toEqual(
        live.map((p) => ({
          uri: p.uri,
          author: p.author,
          text: p.text,
          reply_parent: p === reply ? kept.uri : null,
        })),
      )
      expect(await cursorRows()).toEqual([
        { source: `firehose:${url}`, cursor: await currentSeq() },
      ])
    } finally {
      handle.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('firehose source against a relay that sends bad frames', () => {
  const repo = 'did:plc:w4xbfzo7kqfes5zb7r6qv3rw'
  const time = new Date().toISOString()
  const commit = (seq: number, ops: unknown[], blocks: Uint8Array, commitCid: Cid) =>
    frame('#commit', {
      seq,
      rebase: false,
      tooBig: false,
      repo,
      commit: commitCid,
      rev: `3l${seq}`,
      since: null,
      blocks,
      ops,
      blobs: [],
      time,
    })

  it('reports what it cannot use, keeps going, and redials with the right cursor', async () => {
    const good = await block({ $type: POST, text: 'Hei fra en falsk relé!', createdAt: time })
    const wrongShape = await block({ $type: POST, text: 42, createdAt: time })
    const other = await block({ $type: POST, text: 'andre bytes', createdAt: time })
    const create = (rkey: string, cid: Cid) => ({ action: 'create', path: `${POST}/${rkey}`, cid })
    const relay = await startScriptedRelay([
      [
        new Uint8Array([0xff, 0x00, 0x13]),
        frame('#identity', { seq: 10, did: repo, time }),
        commit(11, [create('a', good.cid)], new Uint8Array([1, 2, 3]), good.cid),
        // the block under the op's CID holds other bytes
        commit(
          12,
          [create('b', good.cid)],
          await car([{ cid: good.cid, bytes: other.bytes }]),
          good.cid,
        ),
        commit(13, [create('c', wrongShape.cid)], await car([wrongShape]), wrongShape.cid),
        frame('#someday', { seq: 14, time }),
        frame('#info', { name: 'OutdatedCursor', message: 'too old' }),
        commit(
          15,
          [create('d', good.cid), { action: 'delete', path: `${POST}/e`, cid: null }],
          await car([good]),
          good.cid,
        ),
        frame('#account', { seq: 16, did: repo, time, active: false, status: 'takendown' }),
      ],
      [new ErrorFrame({ error: 'FutureCursor', message: 'cursor in the future' }).toBytes()],
      [frame('#account', { seq: 1, did: repo, time, active: true })],
    ])
    try {
      const source = createFirehoseSource({
        url: `${relay.url}/`,
        stallTimeoutMs: 30_000,
        collections: [POST],
        limits: LIMITS,
      })
      const out = await collect(source, { cursor: 9 }, (o) => o.events.some((e) => e.cursor === 1))
      const t = Date.parse(time)
      expect(out.events).toEqual([
        { kind: 'cursor', cursor: 10, time: t },
        { kind: 'cursor', cursor: 11, time: t },
        { kind: 'cursor', cursor: 12, time: t },
        { kind: 'cursor', cursor: 13, time: t },
        { kind: 'cursor', cursor: 14, time: t },
        expect.objectContaining({
          kind: 'post',
          cursor: 14,
          uri: `at://${repo}/${POST}/d`,
          cid: good.cid.toString(),
          text: 'Hei fra en falsk relé!',
        }),
        { kind: 'delete', cursor: 15, time: t, collection: POST, uri: `at://${repo}/${POST}/e` },
        { kind: 'account', cursor: 16, time: t, did: repo, active: false, status: 'takendown' },
        { kind: 'account', cursor: 1, time: t, did: repo, active: true, status: null },
      ])
      expect(out.skips.map((s) => s.reason)).toEqual([
        'malformed',
        'malformed',
        'malformed',
        'malformed',
        'unknown_type',
      ])
      // after a lost connection it asks for the newest seq it handed on; a cursor the relay
      // calls future is dropped, to follow the stream live
      const path = '/xrpc/com.atproto.sync.subscribeRepos'
      expect(relay.dials.slice(0, 3)).toEqual([`${path}?cursor=9`, `${path}?cursor=16`, path])
      const warned = out.logs.map((l) => l.msg)
      expect(warned).toContain('firehose info frame')
      expect(warned).toContain('firehose error frame')
    } finally {
      await relay.close()
    }
  })

  it('stops reading the socket while the sink is full, then reads on without losing a frame', async () => {
    // 48 MB of frames: far more than the socket buffers and the client's own buffer hold
    const pad = 'x'.repeat(16_000)
    const count = 3000
    const frames = Array.from({ length: count }, (_, i) =>
      frame('#identity', { seq: i + 1, did: repo, time, handle: pad }),
    )
    const relay = await startScriptedRelay([frames], { hangUp: false })
    const seqs: number[] = []
    let release = (): void => undefined
    const released = new Promise<void>((resolve) => {
      release = resolve
    })
    const source = createFirehoseSource({
      url: relay.url,
      stallTimeoutMs: 30_000,
      collections: [POST],
      limits: LIMITS,
    })
    const ac = new AbortController()
    const running = source.run({
      cursor: null,
      signal: ac.signal,
      logger: pino({ level: 'silent' }),
      onSkip: () => undefined,
      sink: {
        push: (event) => {
          seqs.push(event.cursor)
          return false
        },
        writable: () => released,
      },
    })
    try {
      await until(() => seqs.length > 0)
      await sleep(500)
      expect(seqs).toEqual([1])
      // the relay cannot hand its frames to the socket: the client stopped reading it
      expect(relay.sockets[0]?.bufferedAmount).toBeGreaterThan(16 << 20)
      release()
      await until(() => seqs.length === count)
      expect(seqs).toEqual(Array.from({ length: count }, (_, i) => i + 1))
    } finally {
      ac.abort()
      await running
      await relay.close()
    }
  })
})
