/**
 * Ingest throughput: a Jetstream replay server in its own process sends a generated stream as
 * fast as feedgen reads it; feedgen runs as `serve` in its own process (socket -> parse ->
 * language -> channel -> batched durable writes) and the clock stops when the database holds
 * the last event's cursor. Beside it, the ceilings on the same frames: a client that only
 * receives them, bare `JSON.parse`, and bare multi-row libSQL inserts of the same rows.
 *
 * Then catch-up: the real `feedgen serve` with the default feeds, started in front of a backlog
 * of the network's post stream, and how many times faster than real time it works it off.
 *
 *   node bench/ingest.ts [--quick]
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { type Client, createClient } from '@libsql/client'
import { WebSocket } from 'ws'
import { createDb, migrateDb } from '../src/db/index.ts'
import { expectedPostUris } from '../test/support/jetstream-events.ts'
import type { JetstreamEvent } from '../test/support/jetstream-server.ts'
import { build, CLI, procStats, ROOT, sampleRss, spawnServe, startReplay } from './support/proc.ts'
import { addFigures, MB, printTable, type Row } from './support/report.ts'
import {
  LIKE,
  NETWORK_POSTS_PER_DAY,
  NETWORK_PROFILE,
  networkStepUs,
  POST,
  REPOST,
  received,
  type StreamOptions,
  streamEvents,
} from './support/workload.ts'

const DAY_MS = 86_400_000
const BATCH_SIZE = 2_000
const POST_SHARE =
  NETWORK_PROFILE.events.post / Object.values(NETWORK_PROFILE.events).reduce((a, b) => a + b)

export interface IngestRun {
  elapsedS: number
  events: number
  posts: number
  cpuS: number
  peakRss: number
  medianRss: number
  storedPosts: number
  dbBytes: number
}

/**
 * Replays `stream` from a child process into feedgen (`entry`, serve's flags) and waits until
 * every event is committed. Checks that the database then holds exactly the posts it should.
 */
export async function measureIngest(
  stream: StreamOptions,
  /** the entry point and its leading arguments: `[CLI, 'serve']` */
  command: readonly string[],
  collections: readonly string[],
  execArgv: string[] = [],
): Promise<IngestRun> {
  const events = streamEvents(stream)
  const wanted = received(events, collections)
  const lastCursor = (wanted.at(-1) as JetstreamEvent).time_us
  const posts = wanted.filter(isPostWrite).length
  const expected = expectedPostUris(wanted, DAY_MS).size

  const dir = mkdtempSync(join(tmpdir(), 'feedgen-bench-'))
  const dbPath = join(dir, 'feedgen.db')
  await using replay = await startReplay({ stream })
  const connected = replay.message((m): m is { connected: number } => isObj(m) && 'connected' in m)
  const [entry = CLI, ...leading] = command
  await using feedgen = await spawnServe(
    entry,
    [
      ...leading,
      ...['--db', `file:${dbPath}`, '--port', '0', '--listen-host', '127.0.0.1'],
      ...['--jetstream-url', replay.ready.url, '--log-level', 'info'],
      ...['--batch-size', String(BATCH_SIZE)],
    ],
    { execArgv },
  )
  const rss = sampleRss(feedgen.pid)
  const db = createClient({ url: `file:${dbPath}` })
  try {
    const start = (await connected).connected
    const cpu0 = procStats(feedgen.pid).cpuS
    await untilCursor(db, lastCursor, 120_000)
    const elapsedS = (Date.now() - start) / 1000
    const stats = procStats(feedgen.pid)
    const memory = rss.stop()
    const stored = Number((await db.execute('SELECT count(*) AS n FROM posts')).rows[0]?.n)
    if (stored !== expected) throw new Error(`stored ${stored} posts, expected ${expected}`)
    await feedgen.stop()
    await db.execute('PRAGMA wal_checkpoint(TRUNCATE)')
    return {
      elapsedS,
      events: wanted.length,
      posts,
      cpuS: stats.cpuS - cpu0,
      peakRss: stats.peakRssBytes,
      medianRss: memory.median,
      storedPosts: stored,
      dbBytes: fileSize(dbPath) + fileSize(`${dbPath}-wal`),
    }
  } finally {
    db.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

function isPostWrite(e: JetstreamEvent): boolean {
  return e.kind === 'commit' && e.commit?.collection === POST && e.commit.operation !== 'delete'
}

async function untilCursor(db: Client, cursor: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const rs = await db.execute("SELECT cursor FROM cursors WHERE source = 'jetstream'")
    if (Number(rs.rows[0]?.cursor ?? 0) >= cursor) return
    if (Date.now() > deadline) throw new Error(`feedgen did not reach cursor ${cursor} in time`)
    await sleep(20)
  }
}

/** Events per second a client receives when it does nothing with them. */
async function socketCeiling(url: string, collections: readonly string[], events: number) {
  const params = collections.map((c) => `wantedCollections=${c}`).join('&')
  const ws = new WebSocket(`${url}/subscribe?${params}`, { perMessageDeflate: false })
  let n = 0
  let start = 0
  await new Promise<void>((resolve, reject) => {
    ws.on('open', () => {
      start = performance.now()
    })
    ws.on('message', () => {
      if (++n === events) resolve()
    })
    ws.on('error', reject)
  })
  const seconds = (performance.now() - start) / 1000
  ws.terminate()
  return events / seconds
}

/** Events per second that bare `JSON.parse` turns from frames into objects. */
function parseCeiling(frames: readonly Buffer[]): number {
  for (const f of frames.slice(0, 10_000)) JSON.parse(f.toString())
  const start = performance.now()
  for (const f of frames) JSON.parse(f.toString())
  return frames.length / ((performance.now() - start) / 1000)
}

const POST_COLUMNS = 11
const ROWS_PER_STATEMENT = Math.floor(32_766 / POST_COLUMNS)

/**
 * Posts per second that plain multi-row INSERT statements with bound values write into the same
 * schema (database opened as feedgen opens it), one transaction per batch of `BATCH_SIZE` events.
 */
async function insertCeiling(events: readonly JetstreamEvent[]): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'feedgen-bench-'))
  await using handle = await createDb(`file:${join(dir, 'ceiling.db')}`)
  await migrateDb(handle.db)
  const batches: { posts: unknown[][]; langs: unknown[][] }[] = []
  for (let i = 0; i < events.length; i += BATCH_SIZE) {
    const posts: unknown[][] = []
    const langs: unknown[][] = []
    for (const e of events.slice(i, i + BATCH_SIZE)) {
      if (!isPostWrite(e) || e.commit?.operation !== 'create') continue
      const r = e.commit.record as {
        text: string
        langs?: string[]
        reply?: { root: { uri: string } }
      }
      const uri = `at://${e.did}/${POST}/${e.commit.rkey}`
      const time = Math.floor(e.time_us / 1000)
      const lang = r.langs?.[0] ?? 'en'
      const reply = r.reply?.root.uri ?? null
      posts.push([
        uri,
        e.commit.cid,
        e.did,
        r.text,
        time,
        time,
        reply,
        reply,
        JSON.stringify(r.langs ?? []),
        lang,
        0.9,
      ])
      langs.push([lang, time, uri, 'both'])
    }
    batches.push({ posts, langs })
  }
  const start = performance.now()
  let n = 0
  for (const b of batches) {
    const stmts = [
      ...multiRow('INSERT OR IGNORE INTO posts VALUES', b.posts),
      ...multiRow('INSERT OR IGNORE INTO post_langs VALUES', b.langs),
    ]
    if (stmts.length > 0) await handle.client.batch(stmts, 'write')
    n += b.posts.length
  }
  const seconds = (performance.now() - start) / 1000
  rmSync(dir, { recursive: true, force: true })
  return n / seconds
}

function multiRow(head: string, rows: unknown[][]) {
  const out = []
  const width = rows[0]?.length ?? 0
  const tuple = `(${new Array(width).fill('?').join(', ')})`
  for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
    const chunk = rows.slice(i, i + ROWS_PER_STATEMENT)
    out.push({
      sql: `${head} ${new Array(chunk.length).fill(tuple).join(', ')}`,
      args: chunk.flat() as (string | number | null)[],
    })
  }
  return out
}

function fileSize(path: string): number {
  try {
    return statSync(path).size
  } catch {
    return 0
  }
}

function isObj(m: unknown): m is Record<string, unknown> {
  return typeof m === 'object' && m !== null
}

export async function run(opts: { quick: boolean }): Promise<Record<string, number>> {
  build()
  const figures: Record<string, number> = {}
  const mixedCollections = [LIKE, POST, REPOST]
  const mixedCount = opts.quick ? 120_000 : 300_000
  const mixed: StreamOptions = {
    profile: 'network',
    count: mixedCount,
    seed: 1,
    authors: 20_000,
    stepUs: 1000,
    startUs: (Date.now() - 60_000) * 1000 - mixedCount * 1000,
  }

  const run1 = await measureIngest(
    mixed,
    [`${ROOT}bench/support/serve-bench.js`, 'engaged'],
    mixedCollections,
  )
  const events = streamEvents(mixed)
  const frames = received(events, mixedCollections).map((e) => Buffer.from(JSON.stringify(e)))
  await using replay = await startReplay({ stream: mixed })
  const socket = await socketCeiling(replay.ready.url, mixedCollections, frames.length)
  const parse = parseCeiling(frames)
  const insert = await insertCeiling(received(events, mixedCollections))

  const rows: Row[] = [
    {
      figure: 'events/s',
      value: run1.events / run1.elapsedS,
      unit: '',
      target: ['>=', 50_000],
      ceiling: parse,
      ceilingName: 'JSON.parse',
    },
    {
      figure: 'events/s vs socket',
      value: run1.events / run1.elapsedS,
      unit: '',
      ceiling: socket,
      ceilingName: 'bare ws client',
    },
    {
      figure: 'posts/s',
      value: run1.posts / run1.elapsedS,
      unit: '',
      target: ['>=', 10_000],
      ceiling: insert,
      ceilingName: 'bare inserts',
    },
    { figure: 'CPU per event', value: (run1.cpuS / run1.events) * 1e6, unit: 'µs' },
    // what one core does, whatever else the machine runs meanwhile (all of feedgen's threads)
    { figure: 'events per CPU-second', value: run1.events / run1.cpuS, unit: '' },
    { figure: 'posts per CPU-second', value: run1.posts / run1.cpuS, unit: '' },
    { figure: 'CPU use', value: run1.cpuS / run1.elapsedS, unit: 'cores' },
    { figure: 'peak RSS', value: run1.peakRss / MB, unit: 'MB', target: ['<=', 150] },
    { figure: 'median RSS', value: run1.medianRss / MB, unit: 'MB' },
    { figure: 'database bytes per post', value: run1.dbBytes / run1.storedPosts, unit: 'B' },
  ]
  printTable(
    `Ingest, mixed stream: ${run1.events.toLocaleString('en-US')} events (${run1.posts.toLocaleString('en-US')} posts) in ${run1.elapsedS.toFixed(1)} s`,
    rows,
  )
  addFigures(figures, 'ingest.mixed', rows)

  // catch-up: the default deployment (posts only), events timed as the network sends them
  const catchupCount = opts.quick ? 200_000 : 600_000
  const stepUs = networkStepUs(POST_SHARE)
  const backlog: StreamOptions = {
    profile: 'network',
    count: catchupCount,
    seed: 2,
    authors: 20_000,
    stepUs,
    startUs: (Date.now() - 60_000) * 1000 - catchupCount * stepUs,
  }
  const run2 = await measureIngest(backlog, [CLI, 'serve'], [POST])
  const backlogS = (catchupCount * stepUs) / 1e6
  const speed = backlogS / run2.elapsedS
  const catchup: Row[] = [
    { figure: 'posts/s', value: run2.posts / run2.elapsedS, unit: '', target: ['>=', 10_000] },
    { figure: 'backlog', value: backlogS / 60, unit: 'min of network' },
    { figure: 'catch-up speed', value: speed, unit: 'x real time' },
    {
      figure: '24 h backlog takes',
      value: NETWORK_POSTS_PER_DAY / (run2.posts / run2.elapsedS) / 60,
      unit: 'min',
    },
    { figure: 'peak RSS', value: run2.peakRss / MB, unit: 'MB', target: ['<=', 150] },
    { figure: 'database bytes per post', value: run2.dbBytes / run2.storedPosts, unit: 'B' },
  ]
  printTable(
    `Catch-up, feedgen serve with the default feeds: ${run2.posts.toLocaleString('en-US')} posts (${(backlogS / 60).toFixed(0)} min of the network at ${NETWORK_POSTS_PER_DAY.toLocaleString('en-US')} posts/day) in ${run2.elapsedS.toFixed(1)} s`,
    catchup,
  )
  addFigures(figures, 'ingest.catchup', catchup)
  return figures
}

if (import.meta.main) await run({ quick: process.argv.includes('--quick') })
