import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { cursors } from '../src/db/schema.ts'
import { defineFeed, type FeedModule, feeds } from '../src/feeds/index.ts'
import { jsonLines, runCli } from './support/cli.ts'
import {
  appViewAvailable,
  createAccount,
  createPost,
  startAppViewNetwork,
  type TestAccount,
  type TestNetwork,
} from './support/network.ts'
import { type Running, startServe, tempDbUrl } from './support/serve.ts'

const FEED_ID = 'norwegian'
const WAIT = { timeout: 15_000, interval: 20 }

/** What the AppView asked feedgen for, as the feed itself saw it. */
interface SkeletonCall {
  viewer: string | undefined
  uris: string[]
}

/**
 * The real Norwegian feed, recording each call: the viewer proves that feedgen verified the
 * service-auth JWT the PDS minted and the AppView passed on; the URIs are what feedgen answered.
 */
function recording(feed: FeedModule, calls: SkeletonCall[]): FeedModule {
  return defineFeed({
    ...feed,
    // the real feed answers everyone alike (no token check, first page cached); this one
    // records who asked, every time
    usesViewer: true,
    cacheFirstPage: false,
    skeleton: async (params) => {
      const page = await feed.skeleton(params)
      calls.push({ viewer: params.viewer, uris: page.feed.map((item) => item.post) })
      return page
    },
  })
}

/**
 * The whole path the Bluesky app takes: publish the generator record with the real CLI, post to
 * a real PDS, let the real `feedgen serve` ingest its firehose, and read the feed through the PDS,
 * which proxies to the reference AppView, which resolves our did:web and calls getFeedSkeleton.
 */
describe.skipIf(!appViewAvailable())('the reference Bluesky AppView serving a feedgen feed', () => {
  const calls: SkeletonCall[] = []
  let network: TestNetwork
  let app: Running
  let viewer: TestAccount
  let feedUri: string
  /** the Norwegian posts, oldest first */
  let norwegian: { uri: string; text: string; author: TestAccount }[] = []
  const newestFirst = () => [...norwegian].reverse()

  /** Waits until feedgen has committed every event the PDS has sequenced so far. */
  const ingested = async () => {
    const seq = await network.pds.ctx.sequencer.curr()
    await vi.waitFor(async () => {
      const rows = await app.ctx.db.select({ cursor: cursors.cursor }).from(cursors)
      const at = rows[0]?.cursor ?? null
      if (seq !== null && (at === null || at < seq))
        throw new Error(`feedgen at ${at}, PDS at ${seq}`)
    }, WAIT)
  }

  const getFeed = async (params: { limit?: number; cursor?: string } = {}) =>
    (await viewer.agent.app.bsky.feed.getFeed({ feed: feedUri, ...params })).data

  beforeAll(async () => {
    network = await startAppViewNetwork()
    const publisher = await createAccount(network, 'publisher')
    viewer = await createAccount(network, 'viewer')
    const kari = await createAccount(network, 'kari')
    const ola = await createAccount(network, 'ola')
    const sven = await createAccount(network, 'sven')
    const emma = await createAccount(network, 'emma')
    const mette = await createAccount(network, 'mette')

    app = await startServe(
      [
        '--db',
        tempDbUrl(),
        '--source',
        'firehose',
        '--firehose-url',
        `ws://localhost:${network.pds.port}`,
        '--plc-url',
        network.plc.url,
        '--hostname',
        'localhost',
        '--publisher-did',
        publisher.did,
        '--batch-ms',
        '20',
      ],
      { feeds: feeds.map((f) => (f.id === FEED_ID ? recording(f, calls) : f)) },
    )
    // the firehose is live-only without a cursor: posts made before it connects would be missed
    await vi.waitFor(() => expect(app.ctx.metrics.connected).toBe(true), WAIT)

    const published = await runCli(
      ['publish', '--feed', FEED_ID, '--hostname', 'localhost', '--port', String(app.port)],
      {
        FEEDGEN_PUBLISH_HANDLE: publisher.handle,
        FEEDGEN_PUBLISH_PASSWORD: publisher.password,
        FEEDGEN_PUBLISH_SERVICE: network.pds.url,
      },
    )
    expect(published).toMatchObject({ code: 0, stderr: '' })
    feedUri = `at://${publisher.did}/app.bsky.feed.generator/${FEED_ID}`
    expect(jsonLines(published.stdout)).toEqual([
      expect.objectContaining({ feed: FEED_ID, outcome: 'created', uri: feedUri }),
    ])

    // one at a time: the order of creation is the order the feed must show, reversed
    const post = async (author: TestAccount, text: string, langs?: string[]) =>
      (await createPost(author, text, langs ? { langs } : {})).uri
    const norsk = async (author: TestAccount, text: string, langs?: string[]) => {
      norwegian.push({ uri: await post(author, text, langs), text, author })
    }
    // declared languages where authors set them, detection alone where they did not
    await norsk(kari, 'Jeg gleder meg til tur i skogen i morgen, det blir nydelig vær.', ['nb'])
    await post(sven, 'Jag ska åka till Stockholm i helgen och träffa mina gamla vänner.', ['sv'])
    await norsk(ola, 'Eg gler meg til å gå tur i skogen i morgon, det vert nydeleg vêr.', ['nn'])
    await post(emma, 'I am looking forward to a long walk in the forest tomorrow morning.', ['en'])
    await norsk(kari, 'Vi har ikke noe hjemme å spise i kveld, så jeg må handle etter jobb.')
    await post(mette, 'Jeg glæder mig til at gå en tur i skoven i morgen, vejret bliver dejligt.')
    await norsk(ola, 'Ho kjem heim frå skulen kvar dag klokka tre og et middag med oss.', ['no'])
    await post(emma, 'Lovely weather for a walk today, the whole town is out in the sun.')
    await norsk(kari, 'Det er kaldt ute i dag, men solen skinner over hele byen.', ['nb'])
    await Promise.all([network.processAll(), ingested()])
  })

  afterAll(async () => {
    await app?.stop()
    await network?.close()
  })

  it('indexed the published generator record, naming our did:web service', async () => {
    const { data } = await viewer.agent.app.bsky.feed.getFeedGenerator({ feed: feedUri })
    expect(app.ctx.identity.serviceDid).toBe(`did:web:localhost%3A${app.port}`)
    expect(data.view).toMatchObject({
      uri: feedUri,
      did: app.ctx.identity.serviceDid,
      displayName: 'Norsk',
      creator: { handle: 'publisher.test' },
    })
  })

  it('serves only the Norwegian posts, hydrated by the AppView, newest first', async () => {
    const page = await getFeed({ limit: 30 })
    expect(
      page.feed.map(({ post }) => ({
        uri: post.uri,
        text: (post.record as { text?: string }).text,
        handle: post.author.handle,
      })),
    ).toEqual(newestFirst().map(({ uri, text, author }) => ({ uri, text, handle: author.handle })))
    expect(page.cursor).toBeUndefined()
  })

  it('pages with the returned cursor through every post exactly once', async () => {
    const seen: string[] = []
    let cursor: string | undefined
    let pages = 0
    do {
      const page = await getFeed({ limit: 2, ...(cursor ? { cursor } : {}) })
      expect(page.feed.length).toBeLessThanOrEqual(2)
      seen.push(...page.feed.map((item) => item.post.uri))
      cursor = page.cursor
      pages++
    } while (cursor && pages < 10)
    expect(seen).toEqual(newestFirst().map((p) => p.uri))
    expect(pages).toBe(Math.ceil(norwegian.length / 2))
  })

  it("knows the viewer: the AppView passed on the PDS's service-auth JWT and feedgen verified it", async () => {
    calls.length = 0
    await getFeed()
    // logged out, straight to the AppView: no token reaches feedgen, so no viewer
    await network.bsky.getAgent().app.bsky.feed.getFeed({ feed: feedUri })
    const uris = newestFirst().map((p) => p.uri)
    expect(calls).toEqual([
      { viewer: viewer.did, uris },
      { viewer: undefined, uris },
    ])
  })

  it('drops a deleted post once feedgen has ingested the delete and the AppView processed it', async () => {
    const [gone, ...kept] = norwegian
    if (!gone) throw new Error('no posts')
    await gone.author.agent.deletePost(gone.uri)
    await Promise.all([network.processAll(), ingested()])

    calls.length = 0
    const page = await getFeed()
    norwegian = kept
    expect(page.feed.map(({ post }) => post.uri)).toEqual(newestFirst().map((p) => p.uri))
    // feedgen itself left it out, not only the AppView's hydration
    expect(calls).toEqual([{ viewer: viewer.did, uris: newestFirst().map((p) => p.uri) }])
  })
})
