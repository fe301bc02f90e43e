import { eq } from 'drizzle-orm'
import { describe, expect, it } from 'vitest'
import { posts } from '../src/db/schema.ts'
import { defineFeed, feeds, languageFeed } from '../src/feeds/index.ts'
import { swedishReplies } from './fixtures/swedish-replies.ts'
import { insertPosts, postUri } from './support/posts.ts'
import { startServe, tempDbUrl } from './support/serve.ts'

describe('a custom feed written as in the README', () => {
  it('is served next to the built-in feeds and pages through its posts', async () => {
    await using app = await startServe(['--source', 'none', '--db', tempDbUrl()], {
      feeds: [...feeds, swedishReplies],
    })
    const rows = Array.from({ length: 9 }, (_, i) => ({
      uri: postUri(),
      time: 1_750_000_000_000 + Math.floor(i / 3),
      langs: ['sv'],
    }))
    await insertPosts(app.ctx.db, rows)
    // every other post is a reply
    for (const [i, r] of rows.entries()) {
      if (i % 2 === 0)
        await app.ctx.db
          .update(posts)
          .set({ replyParent: rows[0]?.uri })
          .where(eq(posts.uri, r.uri))
    }
    const replies = rows.filter((_, i) => i % 2 === 0).map((r) => r.uri)

    const seen: string[] = []
    let cursor: string | undefined
    do {
      const qs = new URLSearchParams({
        feed: `at://${app.ctx.publisherDid}/app.bsky.feed.generator/sv-replies`,
        limit: '2',
        ...(cursor ? { cursor } : {}),
      })
      const res = await fetch(`${app.url}/xrpc/app.bsky.feed.getFeedSkeleton?${qs}`)
      const body = (await res.json()) as { feed: { post: string }[]; cursor?: string }
      expect(res.status).toBe(200)
      seen.push(...body.feed.map((f) => f.post))
      cursor = body.cursor
    } while (cursor)
    expect(seen.sort()).toEqual(replies.sort())
  })

  it('refuses two feeds with one id', async () => {
    await expect(
      startServe(['--source', 'none', '--db', tempDbUrl()], {
        feeds: [...feeds, feeds[0] as (typeof feeds)[0]],
      }),
    ).rejects.toThrow(/two feeds have the id "norwegian"/)
  })

  it('checks tokens unless the feed says it answers everyone alike, and always when it requires auth', () => {
    const def = { displayName: 'x', description: '', skeleton: async () => ({ feed: [] }) }
    expect(defineFeed({ id: 'a', ...def }).usesViewer).toBe(true)
    expect(defineFeed({ id: 'b', ...def, usesViewer: false }).usesViewer).toBe(false)
    expect(defineFeed({ id: 'c', ...def, usesViewer: false, requiresAuth: true }).usesViewer).toBe(
      true,
    )
    const lang = { displayName: 'x', description: '', langs: ['sv'] }
    expect(languageFeed({ id: 'd', ...lang }).usesViewer).toBe(false)
    expect(languageFeed({ id: 'e', ...lang, requiresAuth: true }).usesViewer).toBe(true)
  })
})
