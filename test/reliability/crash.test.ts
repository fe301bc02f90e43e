import type { ChildProcess } from 'node:child_process'
import { rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { setImmediate, setTimeout as sleep } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { createDb, type DbHandle } from '../../src/db/index.ts'
import { feeds } from '../../src/feeds/index.ts'
import { spawnCli } from '../support/cli.ts'
import { CLEAN, compareWithSource, DAY_MS, lastPostStreamCursor } from '../support/ingest.ts'
import { expectedPostUris, mulberry32, POST } from '../support/jetstream-events.ts'
import { type JetstreamServer, startJetstreamServer } from '../support/jetstream-server.ts'
import { freePort } from '../support/net.ts'
import {
  cursorOrNull,
  PUBLISHER,
  pastStream,
  REWIND_US,
  report,
  serveArgs,
  sized,
  tempDir,
  uncommittedWalFrames,
  waitFor,
} from './harness.ts'

/** large batches: each commit writes megabytes, so a kill can land inside one */
const LARGE_BATCHES = [
  ['--batch-size', '20000', '--batch-ms', '1', '--channel-size', '40000'],
  ['--batch-size', '50000', '--batch-ms', '1500', '--channel-size', '100000'],
]
/** what a restart picks from: the large ones, the defaults, tiny ones */
const BATCHINGS = [
  ...LARGE_BATCHES,
  ['--batch-size', '2000', '--batch-ms', '250'],
  ['--batch-size', '7', '--batch-ms', '1', '--channel-size', '50'],
]

let dir: string | undefined
let server: JetstreamServer | undefined
let reader: DbHandle | undefined
const children: ChildProcess[] = []

afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL')
  await server?.close()
  server = undefined
  reader?.close()
  reader = undefined
  if (dir) rmSync(dir, { recursive: true, force: true })
  dir = undefined
})

/** Resolves as soon as the WAL grows (a transaction is being written), or after 5 s. */
async function untilGrows(wal: string): Promise<void> {
  const size = () => statSync(wal, { throwIfNoEntry: false })?.size ?? 0
  const from = size()
  const deadline = performance.now() + 5_000
  while (size() === from && performance.now() < deadline) await setImmediate()
}

function spawnServe(args: string[]) {
  const run = spawnCli(args)
  children.push(run.child)
  return run
}

describe('crash and restart', () => {
  const kills = sized(6, 24)

  it(`loses no post and stores none twice across ${kills} SIGKILLs of serve at random points of a replay`, async () => {
    const rand = mulberry32(2024)
    const events = pastStream(sized(200_000, 700_000), 53)
    const last = lastPostStreamCursor(events)
    server = await startJetstreamServer({ events })
    dir = tempDir()
    const db = `file:${join(dir, 'feedgen.db')}`
    const wal = `${join(dir, 'feedgen.db')}-wal`
    // not migrated here: the first runs may be killed inside serve's own migration
    reader = await createDb(db)
    const client = reader.client
    const started = performance.now()
    const rounds: { cursorBefore: number | null; cursorAfter: number | null; torn: number }[] = []

    for (let round = 0; round < kills; round++) {
      const cursorBefore = await cursorOrNull(client)
      const dialsBefore = server.connections.length
      // every other kill aims at a commit; the rest are spread from inside the start (imports,
      // migration) to well into the replay
      const aimed = round % 2 === 1
      const choices = aimed ? LARGE_BATCHES : BATCHINGS
      const batching = choices[Math.floor(rand() * choices.length)] as string[]
      const run = spawnServe(serveArgs({ db, jetstreamUrl: server.url, extra: batching }))
      if (aimed) {
        await sleep(800 + Math.floor(rand() * 1_200))
        await untilGrows(wal)
      } else {
        await sleep(150 + Math.floor(rand() * 2_500))
      }
      run.child.kill('SIGKILL')
      expect(await run.exit, run.stderr()).toEqual({ code: null, signal: 'SIGKILL' })
      const torn = uncommittedWalFrames(`${join(dir, 'feedgen.db')}-wal`)
      const cursorAfter = await cursorOrNull(client)
      // a durable commit is never undone by a kill
      if (cursorBefore !== null) expect(cursorAfter).toBeGreaterThanOrEqual(cursorBefore)
      // every connection of this run asked for the cursor committed before it started, rewound
      for (const dial of server.connections.slice(dialsBefore)) {
        expect(dial.cursor).toBe(cursorBefore === null ? null : cursorBefore - REWIND_US)
      }
      rounds.push({ cursorBefore, cursorAfter, torn })
    }
    const final = spawnServe(serveArgs({ db, jetstreamUrl: server.url }))
    await waitFor(async () => (await cursorOrNull(client)) === last, 'the replay to finish', {
      timeoutMs: 240_000,
    })
    final.child.kill('SIGTERM')
    expect(await final.exit, final.stderr()).toEqual({ code: 0, signal: null })
    expect(await compareWithSource(client, expectedPostUris(events, DAY_MS))).toMatchObject(CLEAN)

    const progressed = rounds.filter((r) => r.cursorAfter !== r.cursorBefore).length
    const midCommit = rounds.filter((r) => r.torn > 0).length
    const midReplay = rounds.filter((r) => r.cursorAfter !== last).length
    report('crash', {
      events: events.length,
      kills,
      killsAfterCommitting: progressed,
      killsBeforeAnyCommit: kills - progressed,
      killsInsideACommit: midCommit,
      killsBeforeTheEnd: midReplay,
      seconds: (performance.now() - started) / 1000,
    })
    expect(progressed).toBeGreaterThan(0)
    // the stream is long enough that most kills interrupt the replay, not a finished one
    expect(midReplay).toBeGreaterThanOrEqual(Math.ceil(kills / 2))
    // a kill inside a commit leaves the transaction's frames in the WAL without a commit frame
    expect(midCommit).toBeGreaterThan(0)
  }, 600_000)
})

describe('crash under read load', () => {
  const rounds = sized(3, 10)

  it(`answers every request with a right page or a connection error while serve is killed ${rounds} times under load`, async () => {
    const rand = mulberry32(77)
    // no updates: each post keeps the time of its create, which orders the feed
    const events = pastStream(sized(40_000, 150_000), 59).filter(
      (e) => e.commit?.operation !== 'update',
    )
    const last = lastPostStreamCursor(events)
    const timeOf = new Map<string, number>()
    for (const e of events) {
      if (e.commit?.operation === 'create' && e.commit.collection === POST) {
        timeOf.set(`at://${e.did}/${POST}/${e.commit.rkey}`, Math.floor(e.time_us / 1000))
      }
    }
    server = await startJetstreamServer({ events })
    dir = tempDir()
    const db = `file:${join(dir, 'feedgen.db')}`
    reader = await createDb(db)
    const client = reader.client
    const port = await freePort()
    const base = `http://127.0.0.1:${port}`
    const args = serveArgs({ db, jetstreamUrl: server.url, port })

    const up = async () => {
      const run = spawnServe(args)
      await waitFor(
        () =>
          fetch(`${base}/xrpc/_health`).then(
            (r) => r.status === 200,
            () => false,
          ),
        'serve to answer',
        { timeoutMs: 30_000, intervalMs: 10 },
      )
      return run
    }
    let run = await up()
    await waitFor(
      async () => ((await cursorOrNull(client)) ?? 0) > (events[5_000]?.time_us ?? 0),
      'posts',
    )

    // readers walk every feed page by page, following cursors; each answer is checked
    const problems: string[] = []
    const errors: number[] = []
    let ok = 0
    let stop = false
    const walk = async (reader: number) => {
      const feedRand = mulberry32(1000 + reader)
      while (!stop) {
        const feed = feeds[Math.floor(feedRand() * feeds.length)]?.id as string
        const uri = `at://${PUBLISHER}/app.bsky.feed.generator/${feed}`
        let cursor: string | undefined
        let prev: { time: number; uri: string } | null = null
        for (let page = 0; page < 20 && !stop; page++) {
          const limit = 1 + Math.floor(feedRand() * 100)
          const q = new URLSearchParams({ feed: uri, limit: String(limit) })
          if (cursor) q.set('cursor', cursor)
          let res: Response
          let body: { feed?: { post?: unknown }[]; cursor?: unknown; error?: unknown }
          try {
            res = await fetch(`${base}/xrpc/app.bsky.feed.getFeedSkeleton?${q}`, {
              signal: AbortSignal.timeout(10_000),
            })
            body = (await res.json()) as typeof body
          } catch {
            // the server is away: start the walk again once it is back
            errors.push(performance.now())
            await sleep(5)
            break
          }
          if (res.status === 503 && body.error === 'NotReady') {
            // bound but still starting: as good as down
            errors.push(performance.now())
            break
          }
          if (res.status !== 200 || !Array.isArray(body.feed)) {
            problems.push(`${feed} ${q}: ${res.status} ${JSON.stringify(body).slice(0, 200)}`)
            break
          }
          if (body.feed.length > limit) problems.push(`${feed}: ${body.feed.length} > ${limit}`)
          for (const item of body.feed) {
            const time = timeOf.get(String(item.post))
            if (time === undefined) {
              problems.push(`${feed}: ${String(item.post)} is no post of the stream`)
              continue
            }
            const key = { time, uri: String(item.post) }
            if (prev && !(key.time < prev.time || (key.time === prev.time && key.uri < prev.uri))) {
              problems.push(`${feed}: ${key.uri} after ${prev.uri}: out of order or repeated`)
            }
            prev = key
          }
          ok++
          if (
            body.cursor !== undefined &&
            (typeof body.cursor !== 'string' || body.cursor === cursor)
          ) {
            problems.push(`${feed}: bad cursor ${JSON.stringify(body.cursor)}`)
          }
          if (typeof body.cursor !== 'string') break
          cursor = body.cursor
        }
      }
    }
    const walkers = Array.from({ length: 4 }, (_, i) => walk(i))

    const downs: { from: number; to: number }[] = []
    for (let round = 0; round < rounds; round++) {
      await sleep(400 + Math.floor(rand() * 1_600))
      const okBefore = ok
      const from = performance.now()
      run.child.kill('SIGKILL')
      await run.exit
      await sleep(Math.floor(rand() * 400))
      run = await up()
      downs.push({ from, to: performance.now() })
      expect(okBefore).toBeGreaterThan(0)
    }
    await sleep(500)
    stop = true
    await Promise.all(walkers)

    expect(problems).toEqual([])
    // every failed request failed while the server was down (plus a moment for the socket)
    const outside = errors.filter((t) => !downs.some((d) => t >= d.from && t <= d.to + 100))
    expect(outside).toEqual([])
    await waitFor(async () => (await cursorOrNull(client)) === last, 'the replay to finish', {
      timeoutMs: 240_000,
    })
    run.child.kill('SIGTERM')
    expect((await run.exit).code).toBe(0)
    expect(await compareWithSource(client, expectedPostUris(events, DAY_MS))).toMatchObject(CLEAN)
    report('crash under read load', {
      kills: rounds,
      pagesOk: ok,
      requestsFailedWhileDown: errors.length,
      meanDowntimeMs: downs.reduce((s, d) => s + d.to - d.from, 0) / downs.length,
    })
  }, 600_000)
})
