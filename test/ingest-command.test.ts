import { afterAll, describe, expect, it } from 'vitest'
import { runCli, spawnCli } from './support/cli.ts'
import { expectedPostUris, generateEvents } from './support/jetstream-events.ts'
import { startJetstreamServer } from './support/jetstream-server.ts'
import { freePort } from './support/net.ts'
import { startServe, tempDbUrl } from './support/serve.ts'
import { waitFor } from './support/wait.ts'

/**
 * The scale-out shape of DESIGN.md: one `feedgen ingest` writer process and a read-only
 * `serve --source none` replica on the same libSQL file (WAL).
 */
describe('feedgen ingest beside a read-only replica', () => {
  const cleanup: (() => Promise<unknown>)[] = []
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c()
  })

  it('writes what the replica serves, answers health and metrics, and stops cleanly', async () => {
    const events = generateEvents({ count: 4000, seed: 11 })
    const jetstream = await startJetstreamServer({ events })
    cleanup.push(() => jetstream.close())
    const db = tempDbUrl()
    const port = await freePort()
    const writer = spawnCli(
      [
        'ingest',
        '--source',
        'jetstream',
        '--jetstream-url',
        jetstream.url,
        '--db',
        db,
        '--port',
        String(port),
        '--listen-host',
        '127.0.0.1',
        '--batch-ms',
        '20',
      ],
      { FEEDGEN_LOG_LEVEL: 'warn' },
    )
    cleanup.push(async () => writer.child.kill('SIGKILL'))

    const replica = await startServe(['--source', 'none', '--db', db])
    cleanup.push(() => replica.stop())
    const expected = expectedPostUris(events, 86_400_000)
    const count = async () =>
      Number((await replica.ctx.db.$client.execute('select count(*) as n from posts')).rows[0]?.n)
    await waitFor(async () => (await count()) === expected.size, 'the replica to see every post')

    const feed = `at://${replica.ctx.publisherDid}/app.bsky.feed.generator/norwegian`
    const res = await fetch(
      `${replica.url}/xrpc/app.bsky.feed.getFeedSkeleton?feed=${encodeURIComponent(feed)}&limit=5`,
    )
    expect(res.status).toBe(200)
    expect(((await res.json()) as { feed: unknown[] }).feed).toHaveLength(5)

    const health = await fetch(`http://127.0.0.1:${port}/xrpc/_health`)
    expect(health.status).toBe(200)
    expect(await health.json()).toMatchObject({ ingest: 'ok' })
    expect(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).toMatch(
      /^feedgen_posts_written_total \d+/m,
    )
    // a writer serves no feeds
    expect(
      (await fetch(`http://127.0.0.1:${port}/xrpc/app.bsky.feed.describeFeedGenerator`)).status,
    ).toBe(404)

    writer.child.kill('SIGTERM')
    expect(await writer.exit).toEqual({ code: 0, signal: null })
    const cursor = await replica.ctx.db.$client.execute(
      "select cursor from cursors where source = 'jetstream'",
    )
    expect(Number(cursor.rows[0]?.cursor)).toBeGreaterThan(0)
  })

  it('refuses to run without a source', async () => {
    const res = await runCli(['ingest', '--source', 'none', '--db', tempDbUrl()])
    expect(res.code).toBe(2)
    expect(res.stderr.trim()).toBe('error: ingest needs a source: --source jetstream or firehose')
  })
})
