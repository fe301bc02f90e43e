import { setImmediate as nextTurn } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { createDb, migrateDb } from '../src/db/index.ts'
import { insertPosts, postUri } from './support/posts.ts'
import { tempDbUrl } from './support/serve.ts'

const COUNT = 'SELECT count(*) FROM posts'

describe('the kept read connection ($readRow)', () => {
  it('sees a write made through the same handle at once, in the same turn', async () => {
    await using h = await createDb(tempDbUrl())
    await migrateDb(h.db)
    expect(await h.db.$readRow(COUNT, [])).toEqual([0])
    await insertPosts(h.db, [{ uri: postUri(), time: 1, langs: ['nb'] }])
    expect(await h.db.$readRow(COUNT, [])).toEqual([1])
  })

  it('reads one snapshot per turn of the event loop: another writer shows in the next turn', async () => {
    const url = tempDbUrl()
    await using h = await createDb(url)
    await migrateDb(h.db)
    await using other = await createDb(url)
    expect(await h.db.$readRow(COUNT, [])).toEqual([0])
    await insertPosts(other.db, [{ uri: postUri(), time: 1, langs: ['nb'] }])
    expect(await h.db.$readRow(COUNT, [])).toEqual([0])
    await nextTurn()
    expect(await h.db.$readRow(COUNT, [])).toEqual([1])
  })

  it('does not hold up a checkpoint that waits for readers', async () => {
    await using h = await createDb(tempDbUrl())
    await migrateDb(h.db)
    await insertPosts(h.db, [{ uri: postUri(), time: 1, langs: ['nb'] }])
    await h.db.$readRow(COUNT, [])
    const started = performance.now()
    // TRUNCATE waits (busy timeout: 5 s) for every reader, our own kept one included
    const rs = await h.client.execute('PRAGMA wal_checkpoint(TRUNCATE)')
    expect(rs.rows[0]?.busy).toBe(0)
    expect(performance.now() - started).toBeLessThan(1000)
  })
})
