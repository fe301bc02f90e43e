import { statSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { AtUri } from '@atproto/syntax'
import { AuthRequiredError, InvalidRequestError, XRPCError } from '@atproto/xrpc-server'
import type { AppContext } from '../context.ts'
import type { FeedModule } from '../feeds/feed.ts'
import type { Metrics } from '../metrics.ts'
import { viewerAuth } from './auth.ts'
import { GET_FEED_SKELETON, lexicons } from './lexicons.ts'

const NSID = GET_FEED_SKELETON
const FEED_COLLECTION = 'app.bsky.feed.generator'

/** Where getFeedSkeleton is served. */
export const GET_FEED_SKELETON_PATH = `/xrpc/${NSID}`

/** The lexicon's parameter types, for decoding the query string as xrpc-server does. */
const PARAM_TYPES: Record<string, string> = Object.fromEntries(
  Object.entries(
    (
      lexicons.getDefOrThrow(NSID) as {
        parameters: { properties: Record<string, { type: string }> }
      }
    ).parameters.properties,
  ).map(([name, p]) => [name, p.type]),
)

/**
 * `app.bsky.feed.getFeedSkeleton` on `node:http` directly, the one request a feed generator
 * serves at volume: no express or xrpc-server per-request work, but the same lexicon validation
 * of the parameters, the same service-auth, the same XRPC error answers and request metrics.
 *
 * The first page of a feed that declares `cacheFirstPage` is kept until the database changes
 * (its WAL file's size or time moves, whoever wrote to it: our writer, another process on the
 * same file, a test), so a popular feed's usual request costs no query; deep pages always query.
 */
export function getFeedSkeleton(
  ctx: AppContext,
): (req: IncomingMessage, res: ServerResponse) => void {
  const auth = viewerAuth(ctx, NSID)
  const wal = ctx.dbPath ? `${ctx.dbPath}-wal` : null
  const firstPages = new Map<string, Buffer>()
  let seenVersion = ''

  /**
   * The database's write position, or null when it cannot be told (no cache then). Read once per
   * turn of the event loop: a request read in this turn was sent before the turn began, so any
   * write its client saw finish is already in the WAL the first `stat` of the turn sees, and
   * under load one `stat` serves every request of the turn (it cost an eighth of a cached
   * request).
   */
  let turnVersion: string | null | undefined
  const dbVersion = (): string | null => {
    if (turnVersion !== undefined) return turnVersion
    turnVersion = null
    setImmediate(() => {
      turnVersion = undefined
    })
    if (wal === null) return null
    const st = statSync(wal, { throwIfNoEntry: false })
    if (st === undefined) return null
    const version = `${st.mtimeMs}:${st.size}`
    if (version !== seenVersion) {
      firstPages.clear()
      seenVersion = version
    }
    turnVersion = version
    return version
  }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = performance.now()
    const search = (req.url ?? '').split('?')[1] ?? ''
    let feedParam: string | null = null
    let status = 200
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        throw new InvalidRequestError(`Incorrect HTTP method (${req.method}) expected GET`)
      }
      const params = validParams(search)
      feedParam = params.feed
      const feed = findFeed(ctx, params.feed)
      // a feed that answers everyone alike is spared the signature check
      const viewer = feed.usesViewer ? (await auth({ req })).credentials.viewer : null
      if (feed.requiresAuth && viewer === null) {
        throw new AuthRequiredError('this feed is personalised: sign in to see it')
      }
      const key =
        feed.cacheFirstPage && params.cursor === undefined ? `${feed.id}\n${params.limit}` : null
      const version = key === null ? null : dbVersion()
      let body = key === null ? undefined : firstPages.get(key)
      if (body === undefined) {
        const page = await feed.skeleton({
          db: ctx.db,
          limit: params.limit,
          ...(params.cursor !== undefined ? { cursor: params.cursor } : {}),
          ...(viewer ? { viewer } : {}),
        })
        body = Buffer.from(JSON.stringify(page))
        // stored under the version read before the query: a write meanwhile clears it
        if (key !== null && version !== null && version === seenVersion) firstPages.set(key, body)
      }
      send(res, status, body)
    } catch (err) {
      const error = XRPCError.fromError(err)
      if (error.statusCode >= 500) ctx.logger.error({ err }, 'xrpc: request failed')
      status = error.statusCode
      send(res, status, Buffer.from(JSON.stringify(error.payload)))
    }
    // labelled with a known feed id or `unknown`, never raw input
    feedParam ??= new URLSearchParams(search).get('feed') ?? ''
    const rkey = feedParam.slice(feedParam.lastIndexOf('/') + 1)
    const m = requestMetrics(ctx.feeds.has(rkey) ? rkey : 'unknown', status)
    m.count.inc()
    m.duration.observe((performance.now() - started) / 1000)
  }
  // the labelled children, looked up once per feed and status
  const children = new Map<
    string,
    {
      count: ReturnType<Metrics['feedRequests']['labels']>
      duration: ReturnType<Metrics['feedRequestDuration']['labels']>
    }
  >()
  const requestMetrics = (feed: string, status: number) => {
    const key = `${feed} ${status}`
    let m = children.get(key)
    if (m === undefined) {
      m = {
        count: ctx.metrics.feedRequests.labels(feed, String(status)),
        duration: ctx.metrics.feedRequestDuration.labels(feed),
      }
      children.set(key, m)
    }
    return m
  }
  return (req, res) => void handle(req, res)
}

interface Params {
  feed: string
  limit: number
  cursor?: string
}

// Validation is a pure function of the query string, and the same few first-page query strings
// come again and again: their outcome is kept (the lexicon validator builds an error object for
// every absent optional parameter, a tenth of a request's time).
const VALID_KEPT = 1000
const valid = new Map<string, Params>()

/** Decodes the query string as xrpc-server does, then validates it against the lexicon. */
function validParams(search: string): Params {
  const kept = valid.get(search)
  if (kept !== undefined) return kept
  const query = new URLSearchParams(search)
  if (query.has('__proto__')) {
    throw new InvalidRequestError('Invalid query parameter: __proto__', 'InvalidQueryParameter')
  }
  const params: Record<string, unknown> = {}
  for (const [name, type] of Object.entries(PARAM_TYPES)) {
    const values = query.getAll(name).map((v) => decodeParam(type, v))
    if (values.length === 1) params[name] = values[0]
    else if (values.length > 1) params[name] = values
  }
  let checked: Params
  try {
    checked = lexicons.assertValidXrpcParams(NSID, params) as unknown as Params
  } catch (cause) {
    throw new InvalidRequestError(String(cause), undefined, { cause })
  }
  if (valid.size >= VALID_KEPT) valid.clear()
  valid.set(search, checked)
  return checked
}

function decodeParam(type: string, value: string): unknown {
  if (!value) return undefined
  if (type === 'integer') return Number.parseInt(value, 10) || 0
  if (type === 'float') return Number(value)
  if (type === 'boolean') return value === 'true'
  return value
}

function send(res: ServerResponse, status: number, body: Buffer): void {
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': body.length,
  })
  res.end(body)
}

/** Only our own publisher's generator records name our feeds. */
function findFeed(ctx: AppContext, uri: string): FeedModule {
  let at: AtUri
  try {
    at = new AtUri(uri)
  } catch {
    throw new InvalidRequestError('feed must be an at:// URI', 'UnknownFeed')
  }
  const feed = ctx.feeds.get(at.rkey)
  if (at.host !== ctx.publisherDid || at.collection !== FEED_COLLECTION || !feed) {
    throw new InvalidRequestError(`unknown feed: ${uri}`, 'UnknownFeed')
  }
  return feed
}

export function feedUri(publisherDid: string, feedId: string): string {
  return `at://${publisherDid}/${FEED_COLLECTION}/${feedId}`
}
