import { existsSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Browser, chromium } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { feeds } from '../src/feeds/index.ts'
import { renderStatusPage, type StatusSnapshot } from '../src/server/status-page.ts'
import { version } from '../src/version.ts'
import { generateEvents, POST } from './support/jetstream-events.ts'
import {
  type JetstreamEvent,
  type JetstreamServer,
  startJetstreamServer,
} from './support/jetstream-server.ts'
import { type Running, startServe, tempDbUrl } from './support/serve.ts'
import { waitFor } from './support/wait.ts'

const CHROMIUM = '/usr/bin/chromium'
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]
// CI must run the browser test: there a missing chromium fails the file instead of skipping it
const haveChromium = existsSync(CHROMIUM)
if (!haveChromium && (process.env.FEEDGEN_REQUIRE_APPVIEW === '1' || process.env.CI)) {
  throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`)
}

const CID = 'bafyreidwaivazkwu67xztlmuobx35hs2lnfh3kolmgfmucldvhd3sgzcqi'

/** The newest post of each Nordic feed, with text that must come out escaped. */
const NEWEST = [
  {
    did: 'did:plc:statusnorwegianaaaaaaaaa',
    rkey: '3lstatusno222',
    langs: ['nb'],
    text: 'Hei fra Bergen! <b>Været</b> er fint i dag & vi går en tur i fjellet før det blir mørkt.',
    feeds: ['norwegian', 'bokmal'],
  },
  {
    did: 'did:plc:statusswedishaaaaaaaaaaa',
    rkey: '3lstatussv222',
    langs: ['sv'],
    text: 'Hej från Göteborg! Vädret är <i>helt</i> fantastiskt idag och vi ska ut och promenera i skogen.',
    feeds: ['swedish'],
  },
  {
    did: 'did:plc:statusdanishaaaaaaaaaaaa',
    rkey: '3lstatusda222',
    langs: ['da'],
    text: 'Hej fra København! Vejret er "helt" fantastisk i dag, og vi skal en tur i skoven bagefter.',
    feeds: ['danish'],
  },
]

function postEvent(p: (typeof NEWEST)[number], timeUs: number): JetstreamEvent {
  return {
    did: p.did,
    time_us: timeUs,
    kind: 'commit',
    commit: {
      rev: p.rkey,
      operation: 'create',
      collection: POST,
      rkey: p.rkey,
      cid: CID,
      record: {
        $type: POST,
        text: p.text,
        langs: p.langs,
        createdAt: new Date(timeUs / 1000).toISOString(),
      },
    },
  }
}

describe('status page', () => {
  let jetstream: JetstreamServer
  let app: Running
  let replica: Running
  let dbUrl: string
  let status: StatusSnapshot

  beforeAll(async () => {
    const background = generateEvents({ count: 1500, seed: 11 })
    const last = (background.at(-1) as JetstreamEvent).time_us
    const newest = NEWEST.map((p, i) => postEvent(p, last + (i + 1) * 1000))
    jetstream = await startJetstreamServer({ events: [...background, ...newest] })
    dbUrl = tempDbUrl()
    app = await startServe([
      '--source',
      'jetstream',
      '--jetstream-url',
      jetstream.url,
      '--db',
      dbUrl,
      '--batch-ms',
      '20',
    ])
    // the page caches its figures for 5 s: wait until a snapshot has the newest posts
    await waitFor(async () => {
      status = (await (await fetch(`${app.url}/status.json`)).json()) as StatusSnapshot
      const danish = status.feeds.find((f) => f.id === 'danish')
      return danish?.newest[0]?.uri.endsWith('3lstatusda222') ?? false
    }, 'the newest posts in the status')
    replica = await startServe(['--source', 'none', '--db', dbUrl])
  })
  afterAll(async () => {
    await replica?.stop()
    await app?.stop()
    await jetstream?.close()
  })

  it('reports version, source state, lag, posts and every feed with its URI and newest posts', () => {
    expect(status).toMatchObject({
      version,
      serviceDid: app.ctx.identity.serviceDid,
      source: { name: 'jetstream', connected: true },
      posts: { exact: true },
    })
    expect(status.source.lagSeconds).toBeGreaterThanOrEqual(0)
    expect(status.source.lagSeconds).toBeLessThan(300)
    expect(status.posts.stored).toBeGreaterThan(500)
    expect(status.db.bytes).toBeGreaterThan(4096)
    expect(status.cursors).toEqual([
      expect.objectContaining({ source: 'jetstream', cursor: expect.any(Number) }),
    ])
    expect(status.feeds.map((f) => [f.id, f.uri])).toEqual(
      feeds.map((f) => [f.id, `at://${app.ctx.publisherDid}/app.bsky.feed.generator/${f.id}`]),
    )
    for (const p of NEWEST) {
      for (const id of p.feeds) {
        const feed = status.feeds.find((f) => f.id === id)
        expect(feed?.last24h, id).toBeGreaterThan(0)
        expect(feed?.newest[0], id).toEqual({
          uri: `at://${p.did}/${POST}/${p.rkey}`,
          author: p.did,
          lang: p.langs[0],
          text: p.text,
          time: expect.any(Number),
          url: `https://bsky.app/profile/${p.did}/post/${p.rkey}`,
        })
      }
    }
  })

  it('counts each feed as its own pages hold it', async () => {
    const norwegian = status.feeds.find((f) => f.id === 'norwegian')
    let served = 0
    let cursor: string | undefined
    do {
      const q = new URLSearchParams({ feed: norwegian?.uri ?? '', limit: '100' })
      if (cursor) q.set('cursor', cursor)
      const res = await fetch(`${app.url}/xrpc/app.bsky.feed.getFeedSkeleton?${q}`)
      const page = (await res.json()) as { feed: unknown[]; cursor?: string }
      served += page.feed.length
      cursor = page.cursor
    } while (cursor)
    expect(norwegian?.last24h).toBe(served)
  })

  it('says that a read replica does not ingest, and shows the same feeds', async () => {
    const res = await fetch(`${replica.url}/status.json`)
    const replicaStatus = (await res.json()) as StatusSnapshot
    expect(replicaStatus.source).toMatchObject({ name: 'none', connected: null, lagSeconds: null })
    expect(replicaStatus.feeds.map((f) => f.newest[0]?.uri)).toEqual(
      status.feeds.map((f) => f.newest[0]?.uri),
    )
    const html = await (await fetch(`${replica.url}/`)).text()
    expect(html).toContain('not ingesting')
  })

  it('serves a self-contained page: no script, no external request, refreshing itself', async () => {
    const res = await fetch(`${app.url}/`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/html/)
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'")
    const html = await res.text()
    expect(html).toMatch(/<meta http-equiv="refresh" content="10">/)
    expect(html).not.toMatch(/<script|<link|src="http/i)
    expect(html).toContain('&lt;b&gt;Været&lt;/b&gt; er fint i dag &amp; vi')
  })

  it.skipIf(!haveChromium)(
    'renders in a real browser: state, every feed with its URI, the newest posts as text',
    async () => {
      const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
      try {
        await showsTheStatus(browser)
      } finally {
        await browser.close()
      }
    },
  )

  async function showsTheStatus(browser: Browser): Promise<void> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    const external: string[] = []
    page.on('request', (req) => {
      if (!req.url().startsWith(app.url)) external.push(req.url())
    })
    await page.goto(`${app.url}/`)
    expect(await page.title()).toBe(`feedgen ${version}: connected`)
    expect(await page.locator('#source .badge').textContent()).toBe('connected')
    expect(await page.locator('#source .value').textContent()).toBe('jetstream')
    expect(await page.locator('#lag .value').textContent()).toMatch(/^\d+(\.\d)? s$|min/)
    expect(await page.locator('#posts .value').textContent()).toMatch(/^[\d,]+$/)
    expect(await page.locator('#rate svg[role=img]').count()).toBe(1)

    for (const feed of status.feeds) {
      const section = page.locator(`section[data-feed="${feed.id}"]`)
      expect(await section.locator('h3').textContent()).toContain(feed.displayName)
      expect(await section.locator('.uri code').textContent()).toBe(feed.uri)
      expect(await section.locator('.count').textContent()).toContain('in the last 24 h')
    }
    for (const p of NEWEST) {
      for (const id of p.feeds) {
        const first = page.locator(`section[data-feed="${id}"] .post`).first()
        // markup in a post is shown as the text it is, never parsed
        expect(await first.locator('.text').textContent()).toBe(p.text)
        expect(await first.locator('.text *').count()).toBe(0)
        expect(await first.locator('.lang').textContent()).toBe(p.langs[0])
        const link = first.locator('a.author')
        expect(await link.textContent()).toBe(p.did)
        expect(await link.getAttribute('href')).toBe(
          `https://bsky.app/profile/${p.did}/post/${p.rkey}`,
        )
      }
    }
    expect(external).toEqual([])

    const png = await page.screenshot({ fullPage: true })
    const file = join(tmpdir(), 'feedgen-status-page.png')
    writeFileSync(file, png)
    expect(png.subarray(1, 4).toString()).toBe('PNG')
    expect(png.byteLength, file).toBeGreaterThan(30_000)
    // decoded by the browser itself: a blank or one-colour page has next to no variance
    const blank = await browser.newPage()
    const pixels = (await blank.evaluate(
      `(${PIXEL_STATS})(${JSON.stringify(png.toString('base64'))})`,
    )) as { width: number; height: number; colours: number; stddev: number }
    await blank.close()
    expect(pixels.width).toBe(1280)
    expect(pixels.height).toBeGreaterThan(600)
    expect(pixels.colours).toBeGreaterThan(100)
    expect(pixels.stddev).toBeGreaterThan(10)
    await page.close()
  }
})

/** Runs in the browser (this project has no DOM types): size, colours and grey spread of a PNG. */
const PIXEL_STATS = `async (b64) => {
  const img = new Image()
  img.src = 'data:image/png;base64,' + b64
  await img.decode()
  const canvas = document.createElement('canvas')
  canvas.width = img.width
  canvas.height = img.height
  const g = canvas.getContext('2d')
  g.drawImage(img, 0, 0)
  const { data } = g.getImageData(0, 0, img.width, img.height)
  const colours = new Set()
  let sum = 0
  let sumSq = 0
  for (let i = 0; i < data.length; i += 4) {
    const grey = (data[i] + data[i + 1] + data[i + 2]) / 3
    sum += grey
    sumSq += grey * grey
    colours.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2])
  }
  const n = data.length / 4
  return { width: img.width, height: img.height, colours: colours.size, stddev: Math.sqrt(sumSq / n - (sum / n) ** 2) }
}`

describe('renderStatusPage', () => {
  const snapshot: StatusSnapshot = {
    version: '1.2.3',
    time: new Date().toISOString(),
    serviceDid: 'did:web:feeds.example.com',
    publisherDid: 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa',
    source: { name: 'jetstream', connected: false, lagSeconds: 3725, eventsPerSecond: [1, 5, 3] },
    cursors: [],
    posts: { stored: 2_500_000, exact: false, newest: null },
    db: { bytes: 3 * 1024 ** 3 },
    feeds: [
      {
        id: 'evil',
        displayName: '<img src=x onerror=alert(1)>',
        uri: 'at://did:plc:aaaaaaaaaaaaaaaaaaaaaaaa/app.bsky.feed.generator/evil',
        last24h: 100_000,
        exact: false,
        newest: [
          {
            uri: 'at://did:plc:bbbbbbbbbbbbbbbbbbbbbbbb/app.bsky.feed.post/3l"onclick=x',
            author: 'did:plc:bbbbbbbbbbbbbbbbbbbbbbbb',
            lang: '<en>',
            text: '</span><script>alert(1)</script>',
            time: null,
            url: 'https://bsky.app/profile/did:plc:bbbbbbbbbbbbbbbbbbbbbbbb/post/3l"onclick=x',
          },
        ],
      },
    ],
  }
  const html = renderStatusPage(snapshot)

  it('escapes everything that comes from posts and feeds', () => {
    expect(html).not.toContain('<script>')
    expect(html).not.toContain('<img src=x')
    expect(html).not.toContain('"onclick')
    expect(html).toContain('&lt;/span&gt;&lt;script&gt;alert(1)&lt;/script&gt;')
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;')
    expect(html).toContain('3l&quot;onclick=x')
  })

  it('marks estimates and capped counts, and draws one chart point per 10 s', () => {
    expect(html).toContain('≈ 2,500,000')
    expect(html).toContain('≥ 100,000 posts in the last 24 h')
    expect(html).toContain('3.0 GiB')
    expect(html).toContain('1 h 2 min')
    expect(html).toContain('disconnected')
    const points = /<polyline points="([^"]*)"/.exec(html)?.[1]?.split(' ')
    expect(points).toHaveLength(3)
  })
})
