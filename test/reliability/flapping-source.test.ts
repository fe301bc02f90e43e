import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import {
  CLEAN,
  compareWithSource,
  DAY_MS,
  ingestConfig,
  lastPostStreamCursor,
  type RunningIngest,
  startIngest,
} from '../support/ingest.ts'
import { expectedPostUris, POST } from '../support/jetstream-events.ts'
import {
  type Fault,
  type JetstreamServer,
  startJetstreamServer,
} from '../support/jetstream-server.ts'
import { captureLogger, type LogLine } from '../support/logs.ts'
import { pastStream, REWIND_US, report, sized, tempDir, waitFor } from './harness.ts'

const STALL_TIMEOUT_MS = 1_500

let dir: string | undefined
let server: JetstreamServer | undefined
let ingest: RunningIngest | undefined

afterEach(async () => {
  await ingest?.stop().catch(() => undefined)
  ingest = undefined
  await server?.close()
  server = undefined
  if (dir) rmSync(dir, { recursive: true, force: true })
  dir = undefined
})

describe('a flapping Jetstream', () => {
  const cycles = sized(1, 4)

  it(`resumes after every drop, cut frame, error close, stall and restart (${cycles} rounds) and loses only what the source lost`, async () => {
    const perFault = sized(1_500, 4_000)
    // 10 ms apart: the 5 s rewind of a reconnect is 500 events, far less than a fault's span
    const stepUs = 10_000
    const count = cycles * 6 * perFault + 5_000
    const events = pastStream(count, 61, stepUs)
    server = await startJetstreamServer({ events })
    dir = tempDir()
    const logs: LogLine[] = []
    ingest = await startIngest(
      `file:${join(dir, 'feedgen.db')}`,
      ingestConfig([server.url], { stallTimeoutMs: STALL_TIMEOUT_MS }),
      captureLogger(logs),
    )
    const srv = server
    const running = ingest
    const gone: { afterUs: number; beforeUs: number }[] = []
    const faults: Fault[] = ['drop', 'truncate', 'error', 'stall']
    const started = performance.now()
    await srv.waitForConnections(1)

    for (let cycle = 0; cycle < cycles; cycle++) {
      for (const fault of faults) {
        const before = srv.connections.length
        const at = performance.now()
        srv.faultAfter(perFault, fault)
        await srv.waitForConnections(before + 1)
        const old = srv.connections[before - 1]
        const next = srv.connections[before]
        expect(old?.ended, fault).toBe(fault === 'stall' ? 'client' : faultEnd(fault))
        if (fault === 'stall') {
          // the watchdog, not the server, ended the silent connection
          expect(performance.now() - at).toBeGreaterThanOrEqual(STALL_TIMEOUT_MS)
        }
        // resumed from within what the lost connection delivered: nothing skipped, little redone
        const resumedAt = (next?.cursor ?? 0) + REWIND_US
        expect(resumedAt, fault).toBeGreaterThanOrEqual(old?.firstTimeUs ?? Infinity)
        expect(resumedAt, fault).toBeLessThanOrEqual(old?.lastTimeUs ?? 0)
      }

      // The server comes back without the events after the point where it went quiet: they are
      // gone for every consumer, and ingest must carry on from the oldest one kept.
      const before = srv.connections.length
      srv.stallAfter(perFault)
      const quiet = () => srv.connections[before - 1]
      await waitFor(() => quiet()?.stalled === true, 'the stall')
      const stalledAt = quiet()?.lastTimeUs as number
      await running.untilCursor(stalledAt)
      const oldestUs = stalledAt + 700 * stepUs
      srv.restart({ oldestUs })
      gone.push({ afterUs: stalledAt, beforeUs: oldestUs })
      await srv.waitForConnections(before + 1)
      expect(quiet()?.ended).toBe('server-closed')
      // the first event kept that the subscription wants (likes are not asked for)
      const firstKept = events.find(
        (e) => e.time_us >= oldestUs && (e.kind !== 'commit' || e.commit?.collection === POST),
      )
      expect(srv.connections[before]?.firstTimeUs).toBe(firstKept?.time_us)
    }

    await running.untilCursor(lastPostStreamCursor(events), 120_000)
    const kept = events.filter(
      (e) => !gone.some((g) => e.time_us > g.afterUs && e.time_us < g.beforeUs),
    )
    expect(kept.length).toBeLessThan(events.length)
    expect(
      await compareWithSource(running.handle.client, expectedPostUris(kept, DAY_MS)),
    ).toMatchObject(CLEAN)
    // each loss was said in the log, with its reason
    const ended = logs.filter((l) => l.msg === 'jetstream connection ended, reconnecting')
    expect(ended.length).toBe(srv.connections.length - 1)
    expect(logs.filter((l) => l.msg === 'jetstream stalled')).toHaveLength(cycles)
    expect(ended.some((l) => String(l.reason).includes('1011'))).toBe(true)
    report('flapping jetstream', {
      connections: srv.connections.length,
      events: events.length,
      lostAtTheSource: events.length - kept.length,
      seconds: (performance.now() - started) / 1000,
    })
    await running.stop()
  }, 300_000)
})

function faultEnd(fault: Exclude<Fault, 'stall'>): string {
  return { drop: 'dropped', truncate: 'truncated', error: 'error' }[fault]
}
