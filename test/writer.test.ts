import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createDb, type DbHandle, migrateDb } from '../src/db/index.ts'
import { Channel } from '../src/ingest/channel.ts'
import type { IngestEvent, PostCreate } from '../src/ingest/events.ts'
import { type CommitInfo, runWriter, writeBatch } from '../src/ingest/writer.ts'
import { createLogger } from '../src/logger.ts'

const KEY = 'test'
let dir: string
let handle: DbHandle

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'feedgen-writer-'))
  handle = await createDb(`file:${join(dir, 'db.sqlite')}`)
  await migrateDb(handle.db)
})

afterEach(() => {
  handle.close()
  rmSync(dir, { recursive: true, force: true })
})

let seq = 0
function post(over: Partial<PostCreate> & { author?: string } = {}): PostCreate {
  seq++
  const author = over.author ?? 'did:plc:alice'
  return {
    kind: 'post',
    cursor: seq,
    time: 1_700_000_000_000 + seq,
    uri: `at://${author}/app.bsky.feed.post/p${seq}`,
    cid: `bafy${seq}`,
    author,
    text: `post ${seq}`,
    createdAt: 1_700_000_000_000 + seq,
    replyRoot: null,
    replyParent: null,
    declaredLangs: ['en'],
    langs: ['en'],
    detectedLang: 'en',
    langConfidence: 0.9,
    ...over,
  }
}

function del(uri: string, collection = 'app.bsky.feed.post'): IngestEvent {
  seq++
  return { kind: 'delete', cursor: seq, time: 1_700_000_000_000 + seq, collection, uri }
}

function account(did: string, active: boolean): IngestEvent {
  seq++
  const status = active ? null : 'takendown'
  return { kind: 'account', cursor: seq, time: 1_700_000_000_000 + seq, did, active, status }
}

async function uris(): Promise<string[]> {
  const rs = await handle.client.execute('SELECT uri FROM posts ORDER BY uri')
  return rs.rows.map((r) => String(r.uri))
}

async function langRows(): Promise<string[]> {
  const rs = await handle.client.execute(
    'SELECT lang, source, uri FROM post_langs ORDER BY uri, lang',
  )
  return rs.rows.map((r) => `${r.uri} ${r.lang} ${r.source}`)
}

async function cursor(): Promise<number | null> {
  const rs = await handle.client.execute({
    sql: 'SELECT cursor FROM cursors WHERE source = ?',
    args: [KEY],
  })
  const row = rs.rows[0]
  return row ? Number(row.cursor) : null
}

describe('writeBatch', () => {
  it('stores posts with their fields, language rows and the cursor in one batch', async () => {
    const a = post({
      text: 'hei på deg',
      declaredLangs: ['nb-NO', 'EN'],
      langs: ['nb', 'en', 'sv'],
      detectedLang: 'nb',
      langConfidence: 0.7,
      replyRoot: 'at://did:plc:bob/app.bsky.feed.post/root',
      replyParent: 'at://did:plc:bob/app.bsky.feed.post/parent',
    })
    const b = post({ declaredLangs: [], langs: [], detectedLang: null, langConfidence: 0 })
    await writeBatch(handle.client, KEY, [a, b])

    const rs = await handle.client.execute({
      sql: 'SELECT * FROM posts WHERE uri = ?',
      args: [a.uri],
    })
    expect(rs.rows[0]).toMatchObject({
      uri: a.uri,
      cid: a.cid,
      author: a.author,
      text: 'hei på deg',
      created_at: a.createdAt,
      indexed_at: a.time,
      reply_root: a.replyRoot,
      reply_parent: a.replyParent,
      declared_langs: '["nb-NO","EN"]',
      detected_lang: 'nb',
      lang_confidence: 0.7,
    })
    // the same row read through drizzle: declared_langs round-trips as an array
    const viaDrizzle = await handle.db.query.posts.findFirst()
    expect(viaDrizzle?.declaredLangs).toEqual(['nb-NO', 'EN'])
    expect(await langRows()).toEqual([
      `${a.uri} en declared`,
      `${a.uri} nb both`,
      `${a.uri} no both`,
      `${a.uri} sv detected`,
    ])
    expect(await uris()).toEqual([a.uri, b.uri].sort())
    expect(await cursor()).toBe(b.cursor)
  })

  it('adds the macrolanguage no for nn without duplicating an existing no row', async () => {
    const nn = post({ declaredLangs: [], langs: ['nn'], detectedLang: 'nn' })
    const both = post({ declaredLangs: ['no'], langs: ['no', 'nb'], detectedLang: 'nb' })
    await writeBatch(handle.client, KEY, [nn, both])
    expect(await langRows()).toEqual(
      [
        `${nn.uri} nn detected`,
        `${nn.uri} no detected`,
        `${both.uri} nb detected`,
        `${both.uri} no declared`,
      ].sort(),
    )
  })

  it('is idempotent: a replayed batch and an update with a new time add nothing', async () => {
    const a = post({ langs: ['en', 'de'] })
    const b = post()
    await writeBatch(handle.client, KEY, [a, b])
    const before = await langRows()
    await writeBatch(handle.client, KEY, [a, b])
    await writeBatch(handle.client, KEY, [
      { ...a, time: a.time + 5000, text: 'edited', cursor: 99 },
    ])
    expect(await uris()).toEqual([a.uri, b.uri].sort())
    expect(await langRows()).toEqual(before)
    const rs = await handle.client.execute('SELECT count(*) AS n FROM post_langs')
    expect(Number(rs.rows[0]?.n)).toBe(3)
    expect(await cursor()).toBe(99)
  })

  it('applies events in order: create then delete ends deleted, delete then create ends stored', async () => {
    const gone = post()
    const back = post()
    await writeBatch(handle.client, KEY, [back])
    await writeBatch(handle.client, KEY, [
      gone,
      del(gone.uri),
      del(back.uri),
      { ...back, text: 'created again' },
    ])
    expect(await uris()).toEqual([back.uri])
    const rs = await handle.client.execute('SELECT text FROM posts')
    expect(rs.rows[0]?.text).toBe('created again')
    expect(await langRows()).toEqual([`${back.uri} en both`])
  })

  it('deletes a stored post and its language rows, and ignores deletes of other collections', async () => {
    const a = post({ langs: ['en', 'nb'] })
    const b = post()
    await writeBatch(handle.client, KEY, [a, b])
    const like = b.uri.replace('app.bsky.feed.post', 'app.bsky.feed.like')
    await writeBatch(handle.client, KEY, [del(a.uri), del(like, 'app.bsky.feed.like')])
    expect(await uris()).toEqual([b.uri])
    expect(await langRows()).toEqual([`${b.uri} en both`])
  })

  it('removes every post of a deactivated account, stored or in the same batch', async () => {
    const old = post({ author: 'did:plc:mallory' })
    const other = post({ author: 'did:plc:bob' })
    await writeBatch(handle.client, KEY, [old, other])
    const pending = post({ author: 'did:plc:mallory' })
    const afterReturn = post({ author: 'did:plc:mallory' })
    await writeBatch(handle.client, KEY, [
      pending,
      account('did:plc:mallory', false),
      account('did:plc:bob', true),
      afterReturn,
    ])
    expect(await uris()).toEqual([afterReturn.uri, other.uri].sort())
    expect(await langRows()).toEqual([`${afterReturn.uri} en both`, `${other.uri} en both`].sort())
  })

  it('moves the cursor on a batch of cursor-only events', async () => {
    await writeBatch(handle.client, KEY, [
      { kind: 'cursor', cursor: 41, time: 1 },
      { kind: 'cursor', cursor: 42, time: 2 },
    ])
    expect(await cursor()).toBe(42)
    expect(await uris()).toEqual([])
  })
})

describe('runWriter', () => {
  it('drains the channel in bounded batches, reports each commit and ends on close', async () => {
    const ch = new Channel<IngestEvent>(1000)
    const events = Array.from({ length: 250 }, () => post())
    for (const e of events) ch.push(e)
    ch.close()
    const commits: CommitInfo[] = []
    await runWriter(ch, {
      client: handle.client,
      sourceKey: KEY,
      batchSize: 100,
      batchMs: 10,
      logger: createLogger('silent'),
      onCommit: (c) => commits.push(c),
    })
    expect(commits.map((c) => c.events)).toEqual([100, 100, 50])
    expect(commits.map((c) => c.cursor)).toEqual([
      events[99]?.cursor,
      events[199]?.cursor,
      events[249]?.cursor,
    ])
    expect((await uris()).length).toBe(250)
    expect(await cursor()).toBe(events[249]?.cursor)
  })

  it('rejects with the database error as cause when a batch cannot be committed', async () => {
    await handle.client.execute('DROP TABLE post_langs')
    const ch = new Channel<IngestEvent>(10)
    ch.push(post())
    ch.close()
    const run = runWriter(ch, {
      client: handle.client,
      sourceKey: KEY,
      batchSize: 10,
      batchMs: 0,
      logger: createLogger('silent'),
    })
    const err = await run.then(
      () => null,
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(Error)
    expect(String((err as Error).cause)).toMatch(/post_langs/)
    expect(await uris()).toEqual([])
  }, 20_000)
})
