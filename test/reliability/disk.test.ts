import { execFileSync } from 'node:child_process'
import { rmSync, statfsSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, describe, expect, it } from 'vitest'
import { createDb } from '../../src/db/index.ts'
import { jsonLines, spawnCli } from '../support/cli.ts'
import { CLEAN, compareWithSource, DAY_MS, lastPostStreamCursor } from '../support/ingest.ts'
import { expectedPostUris } from '../support/jetstream-events.ts'
import { startJetstreamServer } from '../support/jetstream-server.ts'
import { freePort } from '../support/net.ts'
import {
  cursorOrNull,
  metric,
  PUBLISHER,
  pastStream,
  report,
  serveArgs,
  sized,
  tempDir,
  waitFor,
} from './harness.ts'

const MB = 1024 * 1024
// room for the database and a WAL that grows to tens of megabytes between checkpoints
const DISK_MB = sized(192, 384)
/** what is left free for the database once the ballast is written */
const HEADROOM_MB = 6

/** A small tmpfs of our own: as root on Linux (CI), a disk that can really fill up. */
function mountTmpfs(): { dir: string; error: string | null } {
  const dir = tempDir()
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${DISK_MB}m`, 'tmpfs', dir], {
      stdio: 'pipe',
    })
    return { dir, error: null }
  } catch (err) {
    const why = String((err as { stderr?: Buffer }).stderr ?? err).trim()
    return { dir, error: why || 'mount failed' }
  }
}

function unmount(dir: string): void {
  execFileSync('umount', ['-l', dir])
  rmSync(dir, { recursive: true, force: true })
}

/** Why this process may not mount a tmpfs (it may as root on Linux, as in CI), or null. */
function mountRefusal(): string | null {
  const probe = mountTmpfs()
  if (probe.error === null) unmount(probe.dir)
  else rmSync(probe.dir, { recursive: true, force: true })
  return probe.error
}

const refusal = mountRefusal()
if (refusal)
  console.warn(`[reliability] disk-full tests skipped: cannot mount a tmpfs (${refusal})`)
const mounted: string[] = []
afterAll(() => {
  for (const dir of mounted) unmount(dir)
})

/**
 * A fresh tmpfs, and a ballast file on it that leaves only `HEADROOM_MB` free: the disk is all
 * but full before serve starts.
 */
function almostFull(): { folder: string; ballast: string } {
  // one per test: space a finished test frees comes back late, when its last handle closes
  const { dir: folder, error } = mountTmpfs()
  if (error) throw new Error(`cannot mount a tmpfs: ${error}`)
  mounted.push(folder)
  const ballast = join(folder, 'ballast')
  const { bavail, bsize } = statfsSync(folder)
  writeFileSync(ballast, Buffer.alloc(bavail * bsize - HEADROOM_MB * MB))
  return { folder, ballast }
}

const health = async (base: string) =>
  (await fetch(`${base}/xrpc/_health`).then(
    (r) => r.json(),
    () => null,
  )) as { ingest?: string } | null

describe.skipIf(refusal !== null)('a full disk', () => {
  it('pauses ingest, says so in logs, health and metrics, keeps serving, and resumes without loss once space is freed', async () => {
    const count = sized(60_000, 200_000)
    const events = pastStream(count, 71)
    const last = lastPostStreamCursor(events)
    await using server = await startJetstreamServer({ events })
    const { folder, ballast } = almostFull()
    const db = `file:${join(folder, 'feedgen.db')}`
    const port = await freePort()
    const base = `http://127.0.0.1:${port}`
    const run = spawnCli(serveArgs({ db, jetstreamUrl: server.url, port, logLevel: 'info' }))
    try {
      await using reader = await createDb(db)
      const metrics = async () => (await fetch(`${base}/metrics`)).text()
      const started = performance.now()

      await waitFor(async () => (await health(base))?.ingest === 'failing', 'ingest to fail', {
        timeoutMs: 120_000,
        intervalMs: 100,
      })
      const failedAt = performance.now()
      // it keeps failing, the source stops sending, the committed cursor stays put
      await sleep(2_000)
      const cursorA = await cursorOrNull(reader.client)
      const sentA = server.sent
      await sleep(1_500)
      expect(await cursorOrNull(reader.client)).toBe(cursorA)
      expect(server.sent).toBe(sentA)
      expect(cursorA).toBeLessThan(last)
      expect(run.child.exitCode).toBeNull()

      const failing = await metrics()
      expect(metric(failing, 'feedgen_writer_failing')).toBe(1)
      const codes = [...failing.matchAll(/^feedgen_commit_errors_total\{code="([^"]+)"\} (\d+)/gm)]
      expect(codes.length).toBeGreaterThan(0)
      expect(codes.map((m) => m[1])).toEqual(
        expect.arrayContaining([expect.stringMatching(/^SQLITE_(FULL|IOERR)/)]),
      )
      const said = jsonLines(run.stdout()).filter(
        (l) => l.msg === 'writer: commit failed; ingest is paused and the batch will be retried',
      )
      expect(said.length).toBeGreaterThan(0)
      expect(JSON.stringify(said[0]?.err)).toMatch(/SQLITE_(FULL|IOERR)/)

      // serving goes on from what is stored
      const feed = encodeURIComponent(`at://${PUBLISHER}/app.bsky.feed.generator/norwegian`)
      const page = await fetch(`${base}/xrpc/app.bsky.feed.getFeedSkeleton?feed=${feed}`)
      expect(page.status).toBe(200)
      expect(((await page.json()) as { feed: unknown[] }).feed.length).toBeGreaterThan(0)

      // space comes back: the same process commits again and catches up
      unlinkSync(ballast)
      const freedAt = performance.now()
      await waitFor(async () => (await health(base))?.ingest === 'ok', 'ingest to recover', {
        timeoutMs: 30_000,
        intervalMs: 50,
      })
      const recoveredAt = performance.now()
      expect(metric(await metrics(), 'feedgen_writer_failing')).toBe(0)
      await waitFor(async () => (await cursorOrNull(reader.client)) === last, 'the replay', {
        timeoutMs: 180_000,
      })
      expect(jsonLines(run.stdout()).some((l) => l.msg === 'writer: committing again')).toBe(true)
      run.child.kill('SIGTERM')
      expect(await run.exit, run.stderr()).toEqual({ code: 0, signal: null })
      expect(
        await compareWithSource(reader.client, expectedPostUris(events, DAY_MS)),
      ).toMatchObject(CLEAN)
      report('disk full', {
        diskMb: DISK_MB,
        secondsToFill: (failedAt - started) / 1000,
        failedCommitAttempts: codes.reduce((n, m) => n + Number(m[2]), 0),
        errorCodes: codes.map((m) => m[1]).join('+'),
        secondsToRecover: (recoveredAt - freedAt) / 1000,
        events: events.length,
      })
    } finally {
      if (run.child.exitCode === null) run.child.kill('SIGKILL')
      await run.exit
    }
  }, 400_000)

  it('stops promptly on SIGTERM while commits fail, and a restart once space is freed loses nothing', async () => {
    const events = pastStream(sized(30_000, 100_000), 73)
    const last = lastPostStreamCursor(events)
    await using server = await startJetstreamServer({ events })
    const { folder, ballast } = almostFull()
    const db = `file:${join(folder, 'feedgen.db')}`
    const port = await freePort()
    const base = `http://127.0.0.1:${port}`
    const args = serveArgs({ db, jetstreamUrl: server.url, port })
    const first = spawnCli(args)
    let second: ReturnType<typeof spawnCli> | undefined
    try {
      await using reader = await createDb(db)
      await waitFor(async () => (await health(base))?.ingest === 'failing', 'ingest to fail', {
        timeoutMs: 120_000,
        intervalMs: 100,
      })
      const committed = await cursorOrNull(reader.client)
      const asked = performance.now()
      first.child.kill('SIGTERM')
      // the batch that cannot be written is given up at once, not after the retry backoff: it is
      // replayed from the committed cursor at the next start
      expect(await first.exit, first.stderr()).toEqual({ code: 0, signal: null })
      expect(performance.now() - asked).toBeLessThan(3_000)
      expect(await cursorOrNull(reader.client)).toBe(committed)

      unlinkSync(ballast)
      second = spawnCli(args)
      await waitFor(async () => (await cursorOrNull(reader.client)) === last, 'the replay', {
        timeoutMs: 180_000,
      })
      second.child.kill('SIGTERM')
      expect((await second.exit).code).toBe(0)
      expect(
        await compareWithSource(reader.client, expectedPostUris(events, DAY_MS)),
      ).toMatchObject(CLEAN)
    } finally {
      for (const run of [first, second]) {
        if (run && run.child.exitCode === null && run.child.signalCode === null) {
          run.child.kill('SIGKILL')
          await run.exit
        }
      }
    }
  }, 400_000)
})
