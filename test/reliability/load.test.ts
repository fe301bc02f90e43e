import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import autocannon from 'autocannon'
import { describe, expect, it } from 'vitest'
import { createDb } from '../../src/db/index.ts'
import { spawnCli } from '../support/cli.ts'
import { CLEAN, compareWithSource, DAY_MS, lastPostStreamCursor } from '../support/ingest.ts'
import { expectedPostUris } from '../support/jetstream-events.ts'
import { startJetstreamServer } from '../support/jetstream-server.ts'
import { freePort } from '../support/net.ts'
import {
  cursorOrNull,
  FULL,
  PUBLISHER,
  pastStream,
  report,
  serveArgs,
  sized,
  tempDir,
  waitFor,
} from './harness.ts'

const FEEDS = ['norwegian', 'bokmal', 'nynorsk', 'swedish', 'danish']
const SECONDS = sized(5, 20)
const CONNECTIONS = 10
const MIN_INGEST_SHARE = 0.3
/**
 * A request waits for about one commit at most, so small batches keep reads quick while ingest
 * runs flat out. The bounds hold on a busy 2-core machine (the short profile shares it with the
 * rest of `npm test`); the figures themselves are in the README.
 */
const SMALL_BATCHES = {
  args: ['--batch-size', '250', '--batch-ms', '50'],
  maxP99Ms: sized(2_000, 1_000),
}
const DEFAULT_BATCHES = { args: [], maxP99Ms: 5_000 }

describe('load', () => {
  it(`serves ${CONNECTIONS} busy readers for ${SECONDS} s while ingest runs at full speed, without an error and at a bounded latency`, async () => {
    await readsDuringIngest('small batches', SMALL_BATCHES)
  }, 600_000)

  it.runIf(FULL)(
    'does the same with the default batches',
    async () => {
      await readsDuringIngest('default batches', DEFAULT_BATCHES)
    },
    600_000,
  )
})

async function readsDuringIngest(
  name: string,
  config: { args: string[]; maxP99Ms: number },
): Promise<void> {
  const stepUs = 1000
  // long enough to outlast the load even on an idle machine
  const count = sized(300_000, 800_000)
  const events = pastStream(count, 83, stepUs)
  const first = events[0]?.time_us ?? 0
  const last = lastPostStreamCursor(events)
  /** stream events up to a cursor: they are stepUs apart */
  const position = (cursor: number | null) => (cursor === null ? 0 : (cursor - first) / stepUs)
  await using server = await startJetstreamServer({ events })
  const dir = tempDir()
  const db = `file:${join(dir, 'feedgen.db')}`
  const port = await freePort()
  const run = spawnCli(serveArgs({ db, jetstreamUrl: server.url, port, extra: config.args }))
  try {
    await using reader = await createDb(db)
    const committed = async () => position(await cursorOrNull(reader.client))
    const base = `http://127.0.0.1:${port}`
    await waitFor(async () => (await committed()) > 10_000, 'some posts to serve', {
      timeoutMs: 60_000,
    })
    // the feeds' first pages and a page further down, as the AppView asks for them
    const older = encodeURIComponent(`${Math.floor(first / 1000) + 60_000}::at://~`)
    const requests = FEEDS.flatMap((feed) => {
      const q = `feed=${encodeURIComponent(`at://${PUBLISHER}/app.bsky.feed.generator/${feed}`)}`
      return [
        { method: 'GET', path: `/xrpc/app.bsky.feed.getFeedSkeleton?${q}&limit=30` },
        {
          method: 'GET',
          path: `/xrpc/app.bsky.feed.getFeedSkeleton?${q}&limit=50&cursor=${older}`,
        },
      ]
    })
    const load = () =>
      autocannon({ url: base, connections: CONNECTIONS, duration: SECONDS, requests })

    const alone = await rate(committed, 3)
    const from = await committed()
    const t0 = performance.now()
    const busy = await load()
    const duringLoad = ((await committed()) - from) / ((performance.now() - t0) / 1000)
    const stillIngesting = (await cursorOrNull(reader.client)) !== last
    await waitFor(async () => (await cursorOrNull(reader.client)) === last, 'the replay', {
      timeoutMs: 300_000,
    })
    const idle = await load()
    report(`load, ${name}`, {
      connections: CONNECTIONS,
      seconds: SECONDS,
      readsPerSecondWhileIngesting: busy.requests.average,
      p50MsWhileIngesting: busy.latency.p50,
      p99MsWhileIngesting: busy.latency.p99,
      readsPerSecondIdle: idle.requests.average,
      p50MsIdle: idle.latency.p50,
      p99MsIdle: idle.latency.p99,
      ingestEventsPerSecondAlone: alone,
      ingestEventsPerSecondUnderLoad: duringLoad,
    })

    for (const r of [busy, idle]) {
      expect({ errors: r.errors, timeouts: r.timeouts, non2xx: r.non2xx }).toEqual({
        errors: 0,
        timeouts: 0,
        non2xx: 0,
      })
    }
    expect(stillIngesting, 'the replay must outlast the load').toBe(true)
    expect(busy.latency.p99).toBeLessThan(config.maxP99Ms)
    expect(duringLoad).toBeGreaterThan(alone * MIN_INGEST_SHARE)
    run.child.kill('SIGTERM')
    expect((await run.exit).code).toBe(0)
    expect(await compareWithSource(reader.client, expectedPostUris(events, DAY_MS))).toMatchObject(
      CLEAN,
    )
  } finally {
    if (run.child.exitCode === null) run.child.kill('SIGKILL')
    await run.exit
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Stream events committed per second over `seconds`. */
async function rate(committed: () => Promise<number>, seconds: number): Promise<number> {
  const from = await committed()
  const t0 = performance.now()
  await sleep(seconds * 1000)
  return ((await committed()) - from) / ((performance.now() - t0) / 1000)
}
