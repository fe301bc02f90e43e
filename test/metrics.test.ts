import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defineFeed, feeds } from '../src/feeds/index.ts'
import { expectedPostUris, generateEvents } from './support/jetstream-events.ts'
import { type JetstreamServer, startJetstreamServer } from './support/jetstream-server.ts'
import { type Running, startServe, tempDbUrl } from './support/serve.ts'

/** Reads one sample from the Prometheus text format, summing the series that match `labels`. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0
  let found = false
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue
    sum += Number(line.slice(line.lastIndexOf(' ') + 1))
    found = true
  }
  if (!found) throw new Error(`no sample ${name} ${JSON.stringify(labels)}`)
  return sum
}

describe('metrics', () => {
  let jetstream: JetstreamServer
  let app: Running
  const events = generateEvents({ count: 3000, seed: 7 })

  beforeAll(async () => {
    jetstream = await startJetstreamServer({ events: [] })
    // and a feed that reads the viewer, so checks tokens
    const whoasks = defineFeed({
      id: 'whoasks',
      displayName: 'Who asks',
      description: 'test feed',
      skeleton: async () => ({ feed: [] }),
    })
    app = await startServe(
      [
        ...['--source', 'jetstream', '--jetstream-url', jetstream.url],
        ...['--db', tempDbUrl(), '--batch-ms', '20'],
      ],
      { feeds: [...feeds, whoasks] },
    )
    await jetstream.waitForConnections(1)
  })
  afterAll(async () => {
    await app?.stop()
    await jetstream?.close()
  })

  const scrape = async () => {
    const res = await fetch(`${app.url}/metrics`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/)
    return res.text()
  }

  it('moves the ingest figures as events flow', async () => {
    const before = await scrape()
    expect(sample(before, 'feedgen_source_connected', { source: 'jetstream' })).toBe(1)
    expect(sample(before, 'feedgen_posts_written_total')).toBe(0)

    jetstream.append(events)
    const posts = expectedPostUris(events, 86_400_000).size
    let text = before
    for (let i = 0; i < 200; i++) {
      text = await scrape()
      if (jetstream.sent > 0 && sample(text, 'feedgen_events_received_total') >= jetstream.sent)
        break
      await new Promise((r) => setTimeout(r, 50))
    }
    await new Promise((r) => setTimeout(r, 200))
    text = await scrape()
    // only what the source subscribed to arrives: posts, and account/identity events
    expect(sample(text, 'feedgen_events_received_total')).toBe(jetstream.sent)
    expect(sample(text, 'feedgen_events_received_total', { kind: 'post' })).toBeGreaterThan(
      posts / 2,
    )
    expect(sample(text, 'feedgen_posts_written_total')).toBeGreaterThanOrEqual(posts)
    expect(posts).toBeGreaterThan(500)
    expect(sample(text, 'feedgen_events_skipped_total', { reason: 'too_old' })).toBeGreaterThan(0)
    expect(sample(text, 'feedgen_batch_size_count')).toBeGreaterThan(0)
    expect(sample(text, 'feedgen_commit_duration_seconds_count')).toBe(
      sample(text, 'feedgen_batch_size_count'),
    )
    // the generated stream starts a minute ago: lag is about that, not zero and not hours
    const lag = sample(text, 'feedgen_ingest_lag_seconds')
    expect(lag).toBeGreaterThan(0)
    expect(lag).toBeLessThan(3600)
    expect(sample(text, 'feedgen_db_size_bytes')).toBeGreaterThan(4096)
    expect(sample(text, 'feedgen_process_resident_memory_bytes')).toBeGreaterThan(0)
  })

  it('counts feed requests by feed and status, and JWT failures by reason', async () => {
    const feed = `at://${app.ctx.publisherDid}/app.bsky.feed.generator/norwegian`
    const url = (f: string) =>
      `${app.url}/xrpc/app.bsky.feed.getFeedSkeleton?feed=${encodeURIComponent(f)}`
    await fetch(url(feed))
    await fetch(url(feed))
    await fetch(url(`${feed}x`))
    const garbage = { headers: { authorization: 'Bearer garbage' } }
    // the language feed answers everyone alike and does not check the token; whoasks does
    await fetch(url(feed), garbage)
    await fetch(url(`at://${app.ctx.publisherDid}/app.bsky.feed.generator/whoasks`), garbage)
    const text = await scrape()
    expect(sample(text, 'feedgen_feed_requests_total', { feed: 'norwegian', status: '200' })).toBe(
      3,
    )
    expect(sample(text, 'feedgen_feed_requests_total', { feed: 'unknown', status: '400' })).toBe(1)
    expect(sample(text, 'feedgen_feed_requests_total', { feed: 'whoasks', status: '401' })).toBe(1)
    expect(sample(text, 'feedgen_feed_request_duration_seconds_count', { feed: 'norwegian' })).toBe(
      3,
    )
    expect(sample(text, 'feedgen_jwt_failures_total', { reason: 'BadJwt' })).toBe(1)
  })

  it('counts a lost connection as a reconnect', async () => {
    jetstream.dropAfter(1)
    jetstream.append(generateEvents({ count: 2, seed: 8 }))
    await jetstream.waitForConnections(2)
    await new Promise((r) => setTimeout(r, 100))
    const text = await scrape()
    expect(
      sample(text, 'feedgen_source_reconnects_total', { source: 'jetstream' }),
    ).toBeGreaterThanOrEqual(1)
  })
})

describe('metrics on their own port', () => {
  it('serves /metrics only on --metrics-port', async () => {
    const probe = await startServe(['--source', 'none', '--db', tempDbUrl()])
    const port = probe.port + 1
    await probe.stop()
    await using app = await startServe([
      '--source',
      'none',
      '--db',
      tempDbUrl(),
      '--metrics-port',
      String(port),
    ])
    expect((await fetch(`${app.url}/metrics`)).status).toBe(404)
    const res = await fetch(`http://127.0.0.1:${port}/metrics`)
    expect(res.status).toBe(200)
    expect(await res.text()).toContain('feedgen_feed_requests_total')
  })
})
