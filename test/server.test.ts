import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { feeds } from '../src/feeds/index.ts'
import { newestInLang } from '../src/feeds/language-feed.ts'
import { insertPosts, postUri } from './support/posts.ts'
import { type Running, startServe, tempDbUrl } from './support/serve.ts'

const PUBLISHER = 'did:plc:ewvi7nxzyoun6zhxrhs64oiz'
const feedUri = (id: string, publisher = PUBLISHER) =>
  `at://${publisher}/app.bsky.feed.generator/${id}`

async function get(base: string, path: string, params: Record<string, string | number> = {}) {
  const qs = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)]))
  const res = await fetch(`${base}${path}${qs.size ? `?${qs}` : ''}`)
  const text = await res.text()
  return { status: res.status, body: text ? JSON.parse(text) : null, text }
}

const skeleton = (base: string, params: Record<string, string | number>) =>
  get(base, '/xrpc/app.bsky.feed.getFeedSkeleton', params)

describe('serve over XRPC', () => {
  let app: Running

  beforeAll(async () => {
    app = await startServe([
      '--source',
      'none',
      '--db',
      tempDbUrl(),
      '--hostname',
      'feeds.example.com',
      '--publisher-did',
      PUBLISHER,
    ])
  })
  afterAll(async () => {
    await app?.stop()
  })

  it('serves a did:web document naming the https endpoint', async () => {
    const { status, body } = await get(app.url, '/.well-known/did.json')
    expect(status).toBe(200)
    expect(body).toEqual({
      '@context': ['https://www.w3.org/ns/did/v1'],
      id: 'did:web:feeds.example.com',
      service: [
        { id: '#bsky_fg', type: 'BskyFeedGenerator', serviceEndpoint: 'https://feeds.example.com' },
      ],
    })
  })

  it('describes its feeds under the publisher DID', async () => {
    const { status, body } = await get(app.url, '/xrpc/app.bsky.feed.describeFeedGenerator')
    expect(status).toBe(200)
    expect(body.did).toBe('did:web:feeds.example.com')
    expect(body.feeds.map((f: { uri: string }) => f.uri)).toEqual(feeds.map((f) => feedUri(f.id)))
  })

  it('reports health with the version while the database answers', async () => {
    const { status, body } = await get(app.url, '/xrpc/_health')
    expect(status).toBe(200)
    expect(body.version).toMatch(/^\d+\.\d+\.\d+/)
  })

  it('answers an unknown feed, or a feed of another publisher, with UnknownFeed', async () => {
    for (const feed of [
      feedUri('nope'),
      feedUri('norwegian', 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa'),
      `at://${PUBLISHER}/app.bsky.feed.post/norwegian`,
    ]) {
      const res = await skeleton(app.url, { feed })
      expect(res.status, feed).toBe(400)
      expect(res.body.error).toBe('UnknownFeed')
    }
  })

  it('rejects malformed cursors and out-of-range limits with InvalidRequest, never a 500', async () => {
    const feed = feedUri('norwegian')
    for (const cursor of [
      'abc',
      '123',
      '::at://x',
      '12::',
      'x::at://did:plc:a/b/c',
      '1e5::at://a',
      `${'9'.repeat(40)}::at://a`,
    ]) {
      const res = await skeleton(app.url, { feed, cursor })
      expect(res.status, `cursor ${JSON.stringify(cursor)}`).toBe(400)
      expect(res.body.error).toBe('InvalidRequest')
      expect(res.text).not.toMatch(/at .*\.ts:\d+/)
    }
    for (const limit of [0, -1, 101, 'ten']) {
      const res = await skeleton(app.url, { feed, limit })
      expect(res.status, `limit ${limit}`).toBe(400)
      expect(res.body.error).toBe('InvalidRequest')
    }
  })

  it('pages through posts that share timestamps, each exactly once, while new posts arrive', async () => {
    const base = 1_700_000_000_000
    const arranged = Array.from({ length: 60 }, (_, i) => ({
      uri: postUri(),
      time: base + Math.floor(i / 7) * 1000, // runs of 7 equal timestamps straddle page edges
      langs: i % 2 ? ['nb', 'no'] : ['nn', 'no'],
    }))
    await insertPosts(app.ctx.db, arranged)
    const expected = [...arranged]
      .sort((a, b) => b.time - a.time || (a.uri < b.uri ? 1 : -1))
      .map((p) => p.uri)

    const seen: string[] = []
    let cursor: string | undefined
    let pages = 0
    do {
      const res = await skeleton(app.url, {
        feed: feedUri('norwegian'),
        limit: 5,
        ...(cursor ? { cursor } : {}),
      })
      expect(res.status).toBe(200)
      expect(res.body.cursor).not.toBe(cursor)
      seen.push(...res.body.feed.map((f: { post: string }) => f.post))
      cursor = res.body.cursor
      // newer posts arrive between pages: they are above the cursor and never shift the rest
      await insertPosts(app.ctx.db, [
        { uri: postUri(), time: base + 100_000 + pages, langs: ['nb', 'no'] },
      ])
      pages++
    } while (cursor)
    expect(seen).toEqual(expected)
    expect(pages).toBe(12)
  })

  it('returns no cursor on a last page that is exactly full', async () => {
    const feed = feedUri('danish')
    await insertPosts(
      app.ctx.db,
      [1, 2, 3].map((i) => ({ uri: postUri(), time: 1_600_000_000_000 + i, langs: ['da'] })),
    )
    const res = await skeleton(app.url, { feed, limit: 3 })
    expect(res.body.feed).toHaveLength(3)
    expect(res.body.cursor).toBeUndefined()
  })

  it('keeps Bokmål and Nynorsk apart and both in the Norwegian feed', async () => {
    const nb = { uri: postUri(), time: 1_800_000_000_000, langs: ['nb', 'no'] }
    const nn = { uri: postUri(), time: 1_800_000_000_001, langs: ['nn', 'no'] }
    const sv = { uri: postUri(), time: 1_800_000_000_002, langs: ['sv'] }
    await insertPosts(app.ctx.db, [nb, nn, sv])
    const first = async (id: string) =>
      (await skeleton(app.url, { feed: feedUri(id), limit: 2 })).body.feed.map(
        (f: { post: string }) => f.post,
      )
    expect(await first('norwegian')).toEqual([nn.uri, nb.uri])
    expect((await first('bokmal'))[0]).toBe(nb.uri)
    expect((await first('nynorsk'))[0]).toBe(nn.uri)
    expect((await first('swedish'))[0]).toBe(sv.uri)
  })

  it('reads every page of a language feed with one index range scan and no sort', async () => {
    for (const after of [null, { time: 1, uri: 'at://x' }]) {
      const q = newestInLang(app.ctx.db, 'nb', after, 51).toSQL()
      const plan = await app.ctx.db.$client.execute({
        sql: `EXPLAIN QUERY PLAN ${q.sql}`,
        args: q.params as never,
      })
      const detail = plan.rows.map((r) => String(r.detail)).join('\n')
      expect(detail).toMatch(
        /SEARCH post_langs USING (COVERING )?INDEX sqlite_autoindex_post_langs_1 \(lang=\?( AND \(indexed_at,uri\)<\(\?,\?\))?\)/,
      )
      expect(detail).not.toMatch(/SCAN post_langs|TEMP B-TREE/)
    }
  })
})

describe('serve with a did:plc service', () => {
  it('has no did.json', async () => {
    await using app = await startServe([
      '--source',
      'none',
      '--db',
      tempDbUrl(),
      '--service-did',
      'did:plc:ewvi7nxzyoun6zhxrhs64oiz',
    ])
    expect((await get(app.url, '/.well-known/did.json')).status).toBe(404)
  })

  it('says the database is unavailable when it stops answering', async () => {
    const app = await startServe(['--source', 'none', '--db', tempDbUrl()])
    app.ctx.db.$client.close()
    const res = await get(app.url, '/xrpc/_health')
    expect(res.status).toBe(503)
    await app.stop().catch(() => {})
  })
})
