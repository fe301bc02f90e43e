import { fileURLToPath } from 'node:url'
import { createClient } from '@libsql/client'
import { afterEach, describe, expect, it } from 'vitest'
import { createDb, type DbHandle, migrateDb } from '../src/db/index.ts'
import { prune } from '../src/db/retention.ts'
import { fileBytes } from '../src/db/stats.ts'
import { jsonLines, runCli } from './support/cli.ts'
import { startJetstreamServer } from './support/jetstream-server.ts'
import { postCreates, storeEvents } from './support/posts.ts'
import { serveOptions, startServe, tempDbUrl } from './support/serve.ts'
import { waitFor } from './support/wait.ts'

const HOUR_MS = 3_600_000
const DAY_MS = 24 * HOUR_MS

async function count(handle: DbHandle, sql: string): Promise<number> {
  return Number((await handle.client.execute(sql)).rows[0]?.[0])
}

const postCount = (h: DbHandle) => count(h, 'SELECT count(*) FROM posts')
const langCount = (h: DbHandle) => count(h, 'SELECT count(*) FROM post_langs')

const open: DbHandle[] = []
async function freshDb(url = tempDbUrl()): Promise<DbHandle> {
  const handle = await createDb(url)
  await migrateDb(handle.db)
  open.push(handle)
  return handle
}
afterEach(() => {
  for (const h of open.splice(0)) h.close()
})

describe('prune', () => {
  it('removes the posts stored before the cutoff with their language rows, and keeps the rest', async () => {
    const db = await freshDb()
    const now = Date.now()
    await storeEvents(db.client, [
      ...postCreates(2500, now - 2 * DAY_MS),
      ...postCreates(300, now - HOUR_MS),
    ])
    expect(await langCount(db)).toBe(2 * 2800)

    const result = await prune(db.client, { cutoff: now - DAY_MS, batchSize: 1000 })
    expect(result).toMatchObject({ cutoff: now - DAY_MS, posts: 2500, langs: 5000 })
    expect(await postCount(db)).toBe(300)
    expect(await count(db, `SELECT min(indexed_at) FROM posts`)).toBe(now - HOUR_MS)
    expect(await langCount(db)).toBe(600)
    expect(
      await count(
        db,
        'SELECT count(*) FROM post_langs l WHERE NOT EXISTS (SELECT 1 FROM posts p WHERE p.uri = l.uri)',
      ),
    ).toBe(0)
    expect(await prune(db.client, { cutoff: now - DAY_MS })).toMatchObject({ posts: 0, langs: 0 })
  })

  it('stops between batches when its signal aborts, keeping what it removed', async () => {
    const db = await freshDb()
    await storeEvents(db.client, postCreates(2500, Date.now() - 2 * DAY_MS))
    const result = await prune(db.client, {
      cutoff: Date.now(),
      batchSize: 1000,
      signal: AbortSignal.abort(),
    })
    expect(result.posts).toBe(1000)
    expect(await postCount(db)).toBe(1500)
  })

  it('hands the space it frees back to the filesystem', async () => {
    const db = await freshDb()
    await storeEvents(db.client, postCreates(20_000, Date.now() - 2 * DAY_MS))
    await db.client.execute('PRAGMA wal_checkpoint(TRUNCATE)')
    const full = fileBytes(db.path as string)
    expect(full).toBeGreaterThan(10_000_000)

    const result = await prune(db.client, { cutoff: Date.now() })
    expect(result.posts).toBe(20_000)
    expect(result.freedBytes).toBeGreaterThan(full * 0.8)
    await db.client.execute('PRAGMA wal_checkpoint(TRUNCATE)')
    expect(fileBytes(db.path as string)).toBeLessThan(full * 0.1)
  })

  it('keeps the file bounded under a steady stream of inserts and prunes', async () => {
    const db = await freshDb()
    const path = db.path as string
    const start = Date.now() - 12 * HOUR_MS
    const main: number[] = []
    const wal: number[] = []
    // one "hour" of posts per cycle, keeping the last two hours
    for (let hour = 0; hour < 12; hour++) {
      const now = start + hour * HOUR_MS
      await storeEvents(db.client, postCreates(4000, now))
      await prune(db.client, { cutoff: now - 2 * HOUR_MS + 1 })
      main.push(fileBytes(path))
      wal.push(fileBytes(`${path}-wal`))
    }
    expect(await postCount(db)).toBe(2 * 4000)
    // the file holds the retained two hours, not the twelve that passed through it
    const steady = main.slice(2)
    const twoHours = main[2] as number
    expect(Math.max(...steady)).toBeLessThan(twoHours * 1.2)
    expect(Math.min(...steady)).toBeGreaterThan(twoHours * 0.8)
    // the WAL is reused after each checkpoint, and cut back to journal_size_limit
    expect(Math.max(...wal)).toBeLessThanOrEqual(64 * 1024 * 1024 + 1024 * 1024)
  })

  it('lets feed reads through while it prunes 50,000 posts', async () => {
    const url = tempDbUrl()
    const seed = await freshDb(url)
    const now = Date.now()
    await storeEvents(seed.client, [
      ...postCreates(50_000, now - 3 * DAY_MS),
      ...postCreates(120, now - HOUR_MS),
    ])
    await using app = await startServe(['--source', 'none', '--db', url])
    const feed = `at://${app.ctx.publisherDid}/app.bsky.feed.generator/norwegian`
    const read = async () => {
      const res = await fetch(
        `${app.url}/xrpc/app.bsky.feed.getFeedSkeleton?feed=${encodeURIComponent(feed)}&limit=30`,
      )
      return { status: res.status, body: (await res.json()) as { feed: unknown[] } }
    }

    // in the server's own process and connection, as serve's background retention runs
    let pruning = true
    const pruned = prune(app.ctx.db.$client, { cutoff: now - DAY_MS, gentle: true }).finally(() => {
      pruning = false
    })
    const statuses: number[] = []
    let slowest = 0
    while (pruning) {
      const t0 = performance.now()
      const res = await read()
      slowest = Math.max(slowest, performance.now() - t0)
      statuses.push(res.status)
      expect(res.body.feed).toHaveLength(30)
    }
    const result = await pruned
    expect(result.posts).toBe(50_000)
    expect(statuses.every((s) => s === 200)).toBe(true)
    // reads went on between the batches instead of waiting for the whole prune
    expect(statuses.length).toBeGreaterThan(20)
    expect(slowest).toBeLessThan(1000)
    expect(await postCount(seed)).toBe(120)
  })
})

describe('retention in serve', () => {
  it('is on by default for seven days; 0 or off turns it off', () => {
    expect(serveOptions([]).retention).toBe(7 * DAY_MS)
    expect(serveOptions(['--retention', '12h']).retention).toBe(12 * HOUR_MS)
    expect(serveOptions(['--retention', 'off']).retention).toBe(0)
    expect(serveOptions(['--retention', '0']).retention).toBe(0)
  })

  it('prunes in the background of a serve that ingests, and never in a read replica', async () => {
    const url = tempDbUrl()
    const seed = await freshDb(url)
    const now = Date.now()
    await storeEvents(seed.client, [
      ...postCreates(500, now - 3 * HOUR_MS),
      ...postCreates(50, now - 60_000),
    ])

    const replica = await startServe(['--source', 'none', '--db', url, '--retention', '1h'])
    await new Promise((r) => setTimeout(r, 500))
    await replica.stop()
    expect(await postCount(seed)).toBe(550)

    await using jetstream = await startJetstreamServer({ events: [] })
    await using app = await startServe([
      '--source',
      'jetstream',
      '--jetstream-url',
      jetstream.url,
      '--db',
      url,
      '--retention',
      '1h',
    ])
    await waitFor(async () => (await postCount(seed)) === 50, 'the old posts to go', 20_000)
    const metrics = await (await fetch(`${app.url}/metrics`)).text()
    expect(metrics).toMatch(/^feedgen_posts_pruned_total 500$/m)
  })
})

describe('feedgen prune', () => {
  it('removes what is older than --older-than and reports it as one JSON line', async () => {
    const url = tempDbUrl()
    const db = await freshDb(url)
    const now = Date.now()
    await storeEvents(db.client, [
      ...postCreates(700, now - 2 * HOUR_MS),
      ...postCreates(30, now - 60_000),
    ])
    db.close()

    const res = await runCli(['prune', '--older-than', '1h', '--db', url])
    expect(res.stderr).toBe('')
    expect(res.code).toBe(0)
    const lines = jsonLines(res.stdout)
    expect(lines).toHaveLength(1)
    const [report] = lines
    expect(report).toEqual({
      cutoff: expect.any(String),
      posts: 700,
      langs: 1400,
      freedBytes: expect.any(Number),
      dbBytes: expect.any(Number),
      autoVacuum: 'incremental',
      durationMs: expect.any(Number),
    })
    const cutoff = Date.parse(String(report?.cutoff))
    expect(Math.abs(cutoff - (now - HOUR_MS))).toBeLessThan(30_000)
    expect(report?.freedBytes).toBeGreaterThan(0)

    const again = await freshDb(url)
    expect(await postCount(again)).toBe(30)
  })

  it('turns on incremental auto-vacuum in a database made without it, with --vacuum', async () => {
    const url = tempDbUrl()
    // tables before feedgen opens the file: as a database made by an older version
    const raw = createClient({ url })
    await raw.execute('CREATE TABLE made_before (x)')
    raw.close()
    const db = await freshDb(url)
    expect(await count(db, 'PRAGMA auto_vacuum')).toBe(0)
    await storeEvents(db.client, postCreates(100, Date.now() - 2 * HOUR_MS))
    db.close()

    const res = await runCli(['prune', '--older-than', '1h', '--vacuum', '--db', url])
    expect(res.code).toBe(0)
    expect(jsonLines(res.stdout)[0]).toMatchObject({ posts: 100, autoVacuum: 'incremental' })
  })

  it('refuses a bad duration and a database that is not there, with exit code 2', async () => {
    const bad = await runCli(['prune', '--older-than', 'soon'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/--older-than.*duration/)
    const missing = fileURLToPath(new URL('./nowhere/feedgen.db', import.meta.url))
    const res = await runCli(['prune', '--db', `file:${missing}`])
    expect(res.code).toBe(2)
    expect(res.stderr.trim()).toBe(`error: there is no database at ${missing} (see --db)`)
  })
})
