import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createDb, migrateDb } from '../src/db/index.ts'
import { Channel } from '../src/ingest/channel.ts'
import type { IngestEvent } from '../src/ingest/events.ts'
import { type IngestConfig, runIngest } from '../src/ingest/index.ts'
import { createJetstreamSource, subscribeUrl } from '../src/ingest/jetstream.ts'
import { createLogger } from '../src/logger.ts'
import { spawnCli } from './support/cli.ts'
import {
  CLEAN,
  compareWithSource,
  DAY_MS,
  ingestConfig,
  lastPostStreamCursor,
  type RunningIngest,
  startIngest as startIngestIn,
  storedCursor,
} from './support/ingest.ts'
import { expectedPostUris, generateEvents, POST } from './support/jetstream-events.ts'
import {
  type JetstreamEvent,
  type JetstreamServer,
  type ReplayFrame,
  startJetstreamServer,
} from './support/jetstream-server.ts'
import { freePort } from './support/net.ts'

const REWIND_US = 5_000_000
const LIKE = 'app.bsky.feed.like'

let dir: string
let server: JetstreamServer | undefined
const running: RunningIngest[] = []
const children: ChildProcess[] = []
const dbUrl = () => `file:${join(dir, 'feedgen.db')}`

async function startIngest(url: string, config: IngestConfig): Promise<RunningIngest> {
  const r = await startIngestIn(url, config)
  running.push(r)
  return r
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'feedgen-jetstream-'))
})

afterEach(async () => {
  // a test that failed half-way leaves its ingest running: stop it before its files go
  await Promise.allSettled(running.splice(0).map((r) => r.stop()))
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL')
  await server?.close()
  server = undefined
  rmSync(dir, { recursive: true, force: true })
})

describe('jetstream ingest', () => {
  it('replays a mixed stream into exactly the live posts and commits the cursor', async () => {
    const events = generateEvents({ count: 30_000, seed: 7 })
    server = await startJetstreamServer({ events })
    const started = performance.now()
    const ingest = await startIngest(dbUrl(), ingestConfig([server.url]))
    const last = lastPostStreamCursor(events)
    await ingest.untilCursor(last)
    const seconds = (performance.now() - started) / 1000
    const report = await compareWithSource(ingest.handle.client, expectedPostUris(events, DAY_MS))
    expect(report).toMatchObject(CLEAN)
    expect(await storedCursor(ingest.handle.client)).toBe(last)
    // account takedowns and deletes happened in this stream: fewer stored than created
    const created = events.filter(
      (e) => e.commit?.operation === 'create' && e.commit.collection === POST,
    )
    expect(report.stored).toBeLessThan(created.length)
    expect(ingest.skips.get('too_old')).toBeGreaterThan(0)
    expect(server.connections[0]).toMatchObject({ cursor: null, wantedCollections: [POST] })
    console.info(
      `jetstream replay: ${server.sent} events (${created.length} post creates) in ${seconds.toFixed(2)} s = ` +
        `${Math.round(server.sent / seconds)} events/s, ${Math.round(created.length / seconds)} posts/s, ` +
        `${ingest.batches} batches`,
    )
    await ingest.stop()
  })

  it('resumes from the committed cursor after a restart without duplicates', async () => {
    const events = generateEvents({ count: 8_000, seed: 11 })
    const half = events.slice(0, 4_000)
    server = await startJetstreamServer({ events: half })
    const first = await startIngest(dbUrl(), ingestConfig([server.url]))
    await first.untilCursor(lastPostStreamCursor(half))
    await first.stop()

    const handle = await startIngest(dbUrl(), ingestConfig([server.url]))
    const committed = await storedCursor(handle.handle.client)
    expect(committed).toBe(lastPostStreamCursor(half))
    await server.waitForConnections(2)
    expect(server.connections[1]?.cursor).toBe((committed as number) - REWIND_US)
    server.append(events.slice(4_000))
    await handle.untilCursor(lastPostStreamCursor(events))
    expect(
      await compareWithSource(handle.handle.client, expectedPostUris(events, DAY_MS)),
    ).toMatchObject(CLEAN)
    await handle.stop()
  })

  it('never commits a cursor older than the one it resumed from while it replays the rewind', async () => {
    // 10 ms apart: the 5 s rewind replays 500 events, in batches of 5
    const events = generateEvents({ count: 4_000, seed: 47, stepUs: 10_000 })
    const half = events.slice(0, 2_000)
    const resumedFrom = lastPostStreamCursor(half)
    server = await startJetstreamServer({ events: half })
    const first = await startIngest(dbUrl(), ingestConfig([server.url]))
    await first.untilCursor(resumedFrom)
    await first.stop()

    server.append(events.slice(2_000))
    const second = await startIngest(
      dbUrl(),
      ingestConfig([server.url], { batchSize: 5, batchMs: 1 }),
    )
    await second.untilCursor(lastPostStreamCursor(events))
    expect(server.connections[1]?.cursor).toBe(resumedFrom - REWIND_US)
    expect(Math.min(...second.commits)).toBe(resumedFrom)
    expect(
      await compareWithSource(second.handle.client, expectedPostUris(events, DAY_MS)),
    ).toMatchObject(CLEAN)
    await second.stop()
  })

  it('starts live when nothing is committed and takes what is appended', async () => {
    const events = generateEvents({ count: 2_000, seed: 12 })
    server = await startJetstreamServer({ events: events.slice(0, 1_000), noCursor: 'live' })
    const ingest = await startIngest(dbUrl(), ingestConfig([server.url]))
    await server.waitForConnections(1)
    const live = events.slice(1_000)
    server.append(live)
    await ingest.untilCursor(lastPostStreamCursor(live))
    expect(
      await compareWithSource(ingest.handle.client, expectedPostUris(live, DAY_MS)),
    ).toMatchObject(CLEAN)
    await ingest.stop()
  })

  it('reconnects after the server drops the connection and loses nothing', async () => {
    // 10 ms apart, so that the resume point (5 s back) lies after the first event
    const events = generateEvents({ count: 10_000, seed: 13, stepUs: 10_000 })
    server = await startJetstreamServer({ events })
    server.dropAfter(2_500)
    const ingest = await startIngest(dbUrl(), ingestConfig([server.url]))
    await ingest.untilCursor(lastPostStreamCursor(events))
    expect(server.connections.map((c) => c.ended)).toContain('dropped')
    expect(server.connections.length).toBeGreaterThanOrEqual(2)
    // the reconnect resumed near where the first connection stopped, not from the start
    expect(server.connections[1]?.cursor).toBeGreaterThan(events[0]?.time_us ?? 0)
    expect(
      await compareWithSource(ingest.handle.client, expectedPostUris(events, DAY_MS)),
    ).toMatchObject(CLEAN)
    await ingest.stop()
  })

  it('reconnects when the server goes silent without closing (stall watchdog)', async () => {
    const events = generateEvents({ count: 6_000, seed: 17 })
    server = await startJetstreamServer({ events })
    server.stallAfter(1_500)
    const stallTimeoutMs = 400
    const started = performance.now()
    const ingest = await startIngest(dbUrl(), ingestConfig([server.url], { stallTimeoutMs }))
    await server.waitForConnections(2)
    expect(performance.now() - started).toBeGreaterThanOrEqual(stallTimeoutMs)
    expect(server.connections[0]).toMatchObject({ sent: 1_500, ended: 'client' })
    await ingest.untilCursor(lastPostStreamCursor(events))
    expect(
      await compareWithSource(ingest.handle.client, expectedPostUris(events, DAY_MS)),
    ).toMatchObject(CLEAN)
    await ingest.stop()
  })

  it('skips malformed frames and keeps the events around them', async () => {
    const events: ReplayFrame[] = generateEvents({ count: 3_000, seed: 19 })
    const t = (i: number) => (events[i] as JetstreamEvent).time_us
    const bad: [number, string][] = [
      [100, 'not json at all'],
      [500, '{"did": 5, "time_us": 1, "kind": "commit"}'],
      [900, '[1, 2, 3]'],
      [
        1300,
        `{"did":"did:plc:x","time_us":${t(1300)},"kind":"commit","commit":{"operation":"create","collection":"${POST}","rkey":"a","record":{"text":"no cid"}}}`,
      ],
      [
        1700,
        `{"did":"did:plc:x","time_us":${t(1700)},"kind":"commit","commit":{"operation":"create","collection":"${POST}","rkey":"b","cid":"bafy","record":{"text":42}}}`,
      ],
      [2100, `{"did":"did:plc:x","time_us":${t(2100)},"kind":"account","account":{"active":"no"}}`],
    ]
    for (const [at, frame] of bad.reverse()) events.splice(at, 0, frame)
    server = await startJetstreamServer({ events })
    const ingest = await startIngest(dbUrl(), ingestConfig([server.url]))
    await ingest.untilCursor(lastPostStreamCursor(events))
    expect(ingest.skips.get('malformed')).toBe(bad.length)
    expect(
      await compareWithSource(ingest.handle.client, expectedPostUris(events, DAY_MS)),
    ).toMatchObject(CLEAN)
    await ingest.stop()
  })

  it('pauses the socket while the consumer is slow and never buffers past one socket read', async () => {
    const events = generateEvents({ count: 6_000, seed: 23 })
    server = await startJetstreamServer({ events })
    const channelSize = 100
    const channel = new Channel<IngestEvent>(channelSize)
    const source = createJetstreamSource({
      urls: [server.url],
      compress: false,
      stallTimeoutMs: 10_000,
      collections: [POST],
      limits: { maxPostAgeMs: DAY_MS },
    })
    const ac = new AbortController()
    const running = source.run({
      cursor: null,
      sink: channel,
      signal: ac.signal,
      logger: createLogger('silent'),
      onSkip: () => {},
    })
    // a consumer far slower than the socket, that leaves the event loop free while it waits:
    // without a pause the whole replay would pile up in the channel at once
    const last = lastPostStreamCursor(events)
    const cursors: number[] = []
    let peak = 0
    while (cursors.at(-1) !== last) {
      peak = Math.max(peak, channel.depth)
      for (const e of await channel.take(50, 5)) cursors.push(e.cursor)
      await sleep(2)
    }
    ac.abort()
    await running
    const slack = Math.ceil(SOCKET_READ_BYTES / smallestFrame(events))
    expect(peak).toBeGreaterThanOrEqual(channelSize)
    expect(peak).toBeLessThanOrEqual(channelSize + slack)
    // nothing lost or reordered across the pauses
    const sent = events.filter((e) => e.commit?.collection !== LIKE).map((e) => e.time_us)
    expect(cursors).toEqual(sent)
    console.info(`backpressure: peak depth ${peak} with capacity ${channelSize}, slack ${slack}`)
  })

  it('keeps exact results with a tiny channel and tiny batches', async () => {
    const events = generateEvents({ count: 20_000, seed: 24 })
    server = await startJetstreamServer({ events })
    const channelSize = 100
    const ingest = await startIngest(
      dbUrl(),
      ingestConfig([server.url], { channelSize, batchSize: 20, batchMs: 5 }),
    )
    await ingest.untilCursor(lastPostStreamCursor(events), 120_000)
    expect(ingest.peakDepth).toBeLessThanOrEqual(
      channelSize + Math.ceil(SOCKET_READ_BYTES / smallestFrame(events)),
    )
    expect(
      await compareWithSource(ingest.handle.client, expectedPostUris(events, DAY_MS)),
    ).toMatchObject(CLEAN)
    await ingest.stop()
  })

  it('decodes zstd frames compressed with the dictionary', async () => {
    const events = generateEvents({ count: 3_000, seed: 29 })
    const dictionary = Buffer.from(
      generateEvents({ count: 300, seed: 99 })
        .map((e) => JSON.stringify(e))
        .join(''),
    )
    const dictPath = join(dir, 'zstd_dictionary')
    writeFileSync(dictPath, dictionary)
    server = await startJetstreamServer({ events, zstdDictionary: dictionary })
    const ingest = await startIngest(
      dbUrl(),
      ingestConfig([server.url], { jetstreamCompress: true, jetstreamZstdDictionary: dictPath }),
    )
    await ingest.untilCursor(lastPostStreamCursor(events))
    expect(server.connections[0]?.compress).toBe(true)
    expect(ingest.skips.get('malformed')).toBeUndefined()
    expect(
      await compareWithSource(ingest.handle.client, expectedPostUris(events, DAY_MS)),
    ).toMatchObject(CLEAN)
    await ingest.stop()
  })

  it('fails over to the next url when one is down', async () => {
    const events = generateEvents({ count: 2_000, seed: 31 })
    server = await startJetstreamServer({ events })
    const dead = `ws://127.0.0.1:${await freePort()}`
    const ingest = await startIngest(dbUrl(), ingestConfig([dead, server.url]))
    await ingest.untilCursor(lastPostStreamCursor(events), 10_000)
    expect(server.connections).toHaveLength(1)
    expect(
      await compareWithSource(ingest.handle.client, expectedPostUris(events, DAY_MS)),
    ).toMatchObject(CLEAN)
    await ingest.stop()
  })

  it('commits what the channel holds when stopped', async () => {
    const events = generateEvents({ count: 5_000, seed: 37 })
    server = await startJetstreamServer({ events })
    // a batch window longer than the test: only the stop can commit
    const ingest = await startIngest(
      dbUrl(),
      ingestConfig([server.url], { batchSize: 100_000, batchMs: 600_000 }),
    )
    const wanted = events.filter((e) => e.commit?.collection !== LIKE)
    await waitUntil(() => server?.sent === wanted.length)
    await new Promise((r) => setTimeout(r, 200))
    expect(ingest.batches).toBe(0)
    await ingest.stop()

    await using check = await createDb(dbUrl())
    const cursor = await storedCursor(check.client)
    expect(cursor).toBeGreaterThan(events[2_500]?.time_us ?? 0)
    // everything up to the committed cursor is stored, nothing after it
    const upToCursor = events.filter((e) => e.time_us <= (cursor as number))
    expect(
      await compareWithSource(check.client, expectedPostUris(upToCursor, DAY_MS)),
    ).toMatchObject(CLEAN)
  })
})

describe('runIngest', () => {
  it('stops the source and rejects with the cause when the writer cannot commit', async () => {
    const events = generateEvents({ count: 1_000, seed: 43 })
    server = await startJetstreamServer({ events })
    await using handle = await createDb(dbUrl())
    await migrateDb(handle.db)
    await handle.client.execute('DROP TABLE post_langs')
    const failed = await runIngest(
      { db: handle.db, logger: createLogger('silent') },
      ingestConfig([server.url]),
      new AbortController().signal,
    ).then(
      () => null,
      (err: unknown) => err,
    )
    expect(failed).toBeInstanceOf(Error)
    expect(String((failed as Error).cause)).toMatch(/post_langs/)
    expect(server.connections.map((c) => c.ended)).toEqual(['client'])
  }, 30_000)
})

describe('subscribeUrl', () => {
  it('builds the subscribe url from a base with or without /subscribe', () => {
    const want =
      'wss://js.example/subscribe?wantedCollections=a.b&wantedCollections=c.d&cursor=42&compress=true'
    expect(subscribeUrl('wss://js.example', ['a.b', 'c.d'], 42, true)).toBe(want)
    expect(subscribeUrl('wss://js.example/subscribe/', ['a.b', 'c.d'], 42, true)).toBe(want)
    expect(subscribeUrl('ws://127.0.0.1:9/', [], null, false)).toBe('ws://127.0.0.1:9/subscribe')
  })

  it('rejects urls that are not websocket urls', () => {
    expect(() => subscribeUrl('https://js.example', [], null, false)).toThrow(/ws:\/\/ or wss:\/\//)
    expect(() => subscribeUrl('not a url', [], null, false)).toThrow(/invalid url/)
  })
})

describe('jetstream ingest crash safety', () => {
  it('loses nothing and duplicates nothing when serve is killed with SIGKILL mid-replay', async () => {
    const events = generateEvents({ count: 50_000, seed: 41 })
    const last = lastPostStreamCursor(events)
    server = await startJetstreamServer({ events })
    const args = [
      'serve',
      '--source',
      'jetstream',
      '--jetstream-url',
      server.url,
      '--db',
      dbUrl(),
      '--port',
      '0',
      '--listen-host',
      '127.0.0.1',
      '--hostname',
      'localhost',
      '--publisher-did',
      'did:plc:abc',
      '--log-level',
      'warn',
    ]
    await using reader = await createDb(dbUrl())
    // the tables exist before serve runs, so polling them never races its migration
    await migrateDb(reader.db)
    const kills: number[] = []

    // kill at a fifth and again past the middle: both well inside the replay
    for (const at of [10_000, 28_000]) {
      const run = spawnServe(args)
      const target = events[at]?.time_us ?? 0
      await waitUntilAsync(async () => ((await storedCursor(reader.client)) ?? 0) >= target)
      run.child.kill('SIGKILL')
      expect(await run.exit).toEqual({ code: null, signal: 'SIGKILL' })
      const atKill = (await storedCursor(reader.client)) as number
      expect(atKill).toBeLessThan(last)
      kills.push(atKill)
    }

    const second = spawnServe(args)
    await waitUntilAsync(async () => (await storedCursor(reader.client)) === last, 120_000)
    second.child.kill('SIGTERM')
    expect(await second.exit, second.stderr()).toEqual({ code: 0, signal: null })
    // each restart asked for the cursor committed before the kill, rewound
    expect(server.connections.map((c) => c.cursor)).toEqual([
      null,
      ...kills.map((c) => c - REWIND_US),
    ])
    expect(await compareWithSource(reader.client, expectedPostUris(events, DAY_MS))).toMatchObject(
      CLEAN,
    )
  }, 180_000)
})

/** `feedgen serve` in a child process, as an operator runs it. */
function spawnServe(args: string[]) {
  const run = spawnCli(args)
  children.push(run.child)
  return run
}

/** bytes Node reads from a socket at once: what ws parses before a pause can take effect */
const SOCKET_READ_BYTES = 64 * 1024

function smallestFrame(events: JetstreamEvent[]): number {
  const sent = events.filter((e) => e.commit?.collection !== LIKE)
  return Math.min(...sent.map((e) => Buffer.byteLength(JSON.stringify(e))))
}

async function waitUntil(cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 10))
  }
}

async function waitUntilAsync(cond: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await sleep(20)
  }
}
