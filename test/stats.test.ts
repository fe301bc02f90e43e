import { beforeAll, describe, expect, it } from 'vitest'
import type { StatsReport } from '../src/cli/stats.ts'
import { createDb, migrateDb } from '../src/db/index.ts'
import { countFeeds, countPosts } from '../src/db/stats.ts'
import { createRegistry, feeds } from '../src/feeds/index.ts'
import { runCli } from './support/cli.ts'
import { postCreates, storeEvents } from './support/posts.ts'
import { tempDbUrl } from './support/serve.ts'

const HOUR_MS = 3_600_000
const DAY_MS = 24 * HOUR_MS

describe('feedgen stats', () => {
  const url = tempDbUrl()
  const now = Date.now()
  const cursorTime = now - 5 * 60_000

  beforeAll(async () => {
    await using handle = await createDb(url)
    await migrateDb(handle.db)
    const old = now - 2 * DAY_MS
    const recent = now - HOUR_MS
    await storeEvents(handle.client, [
      ...postCreates(10, old, ['nb']),
      ...postCreates(20, recent, ['nb']),
      ...postCreates(5, old, ['sv']),
      ...postCreates(10, recent, ['sv']),
      ...postCreates(4, recent, ['da']),
      ...postCreates(7, old, ['en']),
    ])
    // the writer commits Jetstream's time_us cursor with the rows
    await storeEvents(
      handle.client,
      [{ kind: 'cursor', cursor: cursorTime * 1000, time: cursorTime }],
      'jetstream',
    )
  })

  it('reports posts per language and per feed, size and cursors as JSON', async () => {
    const res = await runCli(['stats', '--db', url, '--json'])
    expect(res.stderr).toBe('')
    expect(res.code).toBe(0)
    const report = JSON.parse(res.stdout) as StatsReport
    expect(report.posts).toEqual({
      total: 56,
      last24h: 34,
      oldest: new Date(now - 2 * DAY_MS).toISOString(),
      newest: new Date(now - HOUR_MS).toISOString(),
    })
    // most posts first; nb posts also count as `no`
    expect(report.languages).toEqual([
      { lang: 'nb', total: 30, last24h: 20 },
      { lang: 'no', total: 30, last24h: 20 },
      { lang: 'sv', total: 15, last24h: 10 },
      { lang: 'en', total: 7, last24h: 0 },
      { lang: 'da', total: 4, last24h: 4 },
    ])
    expect(report.feeds).toEqual([
      { id: 'norwegian', displayName: 'Norsk', total: 30, last24h: 20 },
      { id: 'bokmal', displayName: 'Bokmål', total: 30, last24h: 20 },
      { id: 'nynorsk', displayName: 'Nynorsk', total: 0, last24h: 0 },
      { id: 'swedish', displayName: 'Svenska', total: 15, last24h: 10 },
      { id: 'danish', displayName: 'Dansk', total: 4, last24h: 4 },
    ])
    expect(report.db).toMatchObject({
      path: url.slice('file:'.length),
      autoVacuum: 'incremental',
      freePages: expect.any(Number),
    })
    expect(report.db.bytes).toBeGreaterThan(8192)
    expect(report.db.fileBytes).toBeGreaterThan(0)
    const jetstream = report.cursors.find((c) => c.source === 'jetstream')
    expect(jetstream).toMatchObject({
      cursor: cursorTime * 1000,
      time: new Date(cursorTime).toISOString(),
    })
    expect(jetstream?.ageSeconds).toBeLessThan(120)
    expect(report.cursors.find((c) => c.source === 'test')?.time).toBeNull()
  })

  it('prints readable tables without --json', async () => {
    const res = await runCli(['stats', '--db', url])
    expect(res.code).toBe(0)
    const lines = res.stdout.split('\n')
    expect(lines[0]).toMatch(/^database {2}\/.*feedgen\.db: [\d.]+ KiB .*auto-vacuum incremental$/)
    expect(lines[1]).toMatch(/^posts {5}56 stored, 34 in the last 24 h; from \S+ to \S+$/)
    expect(lines).toContain('language  last 24 h  total')
    expect(lines).toContain('no               20     30')
    expect(lines).toContain('feed       last 24 h  total')
    expect(lines).toContain('norwegian         20     30')
    expect(lines).toContain('nynorsk            0      0')
    expect(lines.find((l) => l.startsWith('jetstream '))).toMatch(
      new RegExp(
        `^jetstream +${cursorTime * 1000} +${new Date(cursorTime).toISOString()} +\\S+ s ago$`,
      ),
    )
  })

  it('refuses a database that is not there instead of creating one', async () => {
    const res = await runCli(['stats', '--db', `${tempDbUrl()}`])
    expect(res.code).toBe(2)
    expect(res.stderr).toMatch(/^error: there is no database at .*feedgen\.db \(see --db\)$/m)
  })
})

describe('bounded counts (the status page)', () => {
  it('stops at the limit and says so: posts are then estimated, feed counts are "at least"', async () => {
    await using handle = await createDb(tempDbUrl())
    await migrateDb(handle.db)
    await storeEvents(handle.client, postCreates(250, Date.now() - HOUR_MS, ['nb']))
    expect(await countPosts(handle.db)).toEqual({ count: 250, exact: true })
    expect(await countPosts(handle.db, { limit: 1000 })).toEqual({ count: 250, exact: true })
    // the estimate comes from the rowid range: here, with no gaps, it is exact in value
    expect(await countPosts(handle.db, { limit: 100 })).toEqual({ count: 250, exact: false })
    const registry = createRegistry(feeds)
    const capped = await countFeeds(handle.db, registry, { limit: 100 })
    expect(capped.find((c) => c.id === 'bokmal')).toEqual({
      id: 'bokmal',
      count: 100,
      exact: false,
    })
    expect(capped.find((c) => c.id === 'swedish')).toEqual({ id: 'swedish', count: 0, exact: true })
    const since = await countFeeds(handle.db, registry, { since: Date.now() })
    expect(since.find((c) => c.id === 'bokmal')?.count).toBe(0)
  })
})
