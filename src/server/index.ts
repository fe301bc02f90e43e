import { once } from 'node:events'
import {
  createServer as createHttpServer,
  type Server as HttpServer,
  type RequestListener,
} from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { createServer as createXrpcServer, XRPCError } from '@atproto/xrpc-server'
import { sql } from 'drizzle-orm'
import express, { type RequestHandler } from 'express'
import type { AppContext } from '../context.ts'
import type { Logger } from '../logger.ts'
import type { Metrics } from '../metrics.ts'
import { describeFeedGenerator } from './describeFeedGenerator.ts'
import { GET_FEED_SKELETON_PATH, getFeedSkeleton } from './getFeedSkeleton.ts'
import { describeFeedGeneratorDoc, getFeedSkeletonDoc } from './lexicons.ts'
import { statusHandlers } from './status-page.ts'

/** The HTTP app: did.json, health, and the XRPC methods (params validated by the lexicons). */
export function createApp(ctx: AppContext, opts: { metrics: boolean }): RequestListener {
  const app = express()
  app.disable('x-powered-by')
  app.set('trust proxy', true)
  app.use(requestLog(ctx.logger))

  const status = statusHandlers(ctx)
  app.get('/', status.page)
  app.get('/status.json', status.json)

  app.get('/.well-known/did.json', (_req, res) => {
    const { serviceDid, hostname, serviceEndpoint } = ctx.identity
    if (serviceDid !== `did:web:${hostname.replace(':', '%3A')}`) {
      res.status(404).json({ error: 'NotFound', message: 'this service does not use did:web' })
      return
    }
    res.json({
      '@context': ['https://www.w3.org/ns/did/v1'],
      id: serviceDid,
      service: [{ id: '#bsky_fg', type: 'BskyFeedGenerator', serviceEndpoint }],
    })
  })

  app.get('/xrpc/_health', healthHandler(ctx))

  if (opts.metrics) app.get('/metrics', metricsHandler(ctx.metrics))
  const feedSkeleton = getFeedSkeleton(ctx)
  app.all(GET_FEED_SKELETON_PATH, (req, res) => feedSkeleton(req, res))

  const xrpc = createXrpcServer([getFeedSkeletonDoc, describeFeedGeneratorDoc], {
    payload: { jsonLimit: 100 * 1024, blobLimit: 0, textLimit: 100 * 1024 },
    // xrpc-server logs through a logger of its own, off unless LOG_ENABLED: ours must see the
    // failures that are ours (5xx); the client's own errors are the debug request lines, and so
    // is 501 for a method we do not serve (a client asking for it, not our failure)
    errorParser: (err) => {
      const xrpcError = XRPCError.fromError(err)
      if (xrpcError.statusCode >= 500 && xrpcError.statusCode !== 501) {
        ctx.logger.error({ err }, 'xrpc: request failed')
      }
      return xrpcError
    },
  })
  describeFeedGenerator(xrpc, ctx)
  app.use(xrpc.router)
  // Feed requests skip express (bench/README.md: most of their cost), unless request lines are
  // logged, which express does.
  if (ctx.logger.isLevelEnabled('debug')) return app
  return (req, res) => {
    const url = req.url ?? ''
    const end = url.indexOf('?')
    if ((end === -1 ? url : url.slice(0, end)) === GET_FEED_SKELETON_PATH) feedSkeleton(req, res)
    else app(req, res)
  }
}

/**
 * One debug line per request (method, URL, status, time); at trace level with the request
 * headers too, whose secrets (authorization, cookie) the logger redacts.
 */
function requestLog(logger: Logger): RequestHandler {
  const log = logger.child({ component: 'http' })
  return (req, res, next) => {
    if (!log.isLevelEnabled('debug')) return next()
    const started = performance.now()
    res.once('finish', () => {
      const line = {
        method: req.method,
        url: req.originalUrl,
        status: res.statusCode,
        ms: Math.round((performance.now() - started) * 10) / 10,
      }
      if (log.isLevelEnabled('trace'))
        log.trace({ ...line, req: { headers: req.headers } }, 'request')
      else log.debug(line, 'request')
    })
    next()
  }
}

/**
 * 200 with the version while the database answers, 503 when it does not. Stays 200 while the
 * writer fails (disk full, read-only): reads still work, and a restart would not help;
 * `ingest: 'failing'` and feedgen_writer_failing are what to alert on.
 */
export function healthHandler(
  ctx: Pick<AppContext, 'db' | 'metrics' | 'version' | 'logger'>,
): RequestHandler {
  return async (_req, res) => {
    try {
      await ctx.db.run(sql`select 1`)
      const ingest = ctx.metrics.ingestHealth()
      res.json({ version: ctx.version, ...(ingest ? { ingest } : {}) })
    } catch (err) {
      ctx.logger.warn({ err }, 'health check: database did not answer')
      res.status(503).json({ version: ctx.version, error: 'database unavailable' })
    }
  }
}

/** Prometheus text format; also served alone on --metrics-port. */
export function metricsHandler(metrics: Metrics): RequestHandler {
  return async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics())
  }
}

/**
 * Node answers a request it cannot read (a malformed request line, a URL or headers over its
 * 16 kB limit) by itself, with an empty body: give that answer the XRPC error shape too.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy()
    return
  }
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW'
  const status = tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request'
  const body = JSON.stringify(
    tooLarge
      ? { error: 'RequestHeaderFieldsTooLarge', message: 'the URL or the headers are too large' }
      : { error: 'InvalidRequest', message: 'malformed HTTP request' },
  )
  socket.end(
    `HTTP/1.1 ${status}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  )
}

export interface Listening extends AsyncDisposable {
  server: HttpServer
  port: number
  /** starts answering with `app`; until then every request gets a 503 */
  serve(app: RequestListener): void
  close(): Promise<void>
}

/**
 * Binds before the app exists: a did:web on localhost names its port, known only after binding
 * when the port is 0. Requests that arrive in between are told to retry, not left hanging.
 */
export async function listen(port: number, host: string): Promise<Listening> {
  let handler: RequestListener = (_req, res) => {
    res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' })
    res.end(JSON.stringify({ error: 'NotReady', message: 'starting up' }))
  }
  const server = createHttpServer((req, res) => handler(req, res))
  server.keepAliveTimeout = 65_000
  server.on('clientError', answerClientError)
  server.listen(port, host)
  await once(server, 'listening')
  const close = async () => {
    if (!server.listening) return
    const closed = once(server, 'close')
    server.close()
    server.closeIdleConnections()
    await closed
  }
  return {
    server,
    port: (server.address() as AddressInfo).port,
    serve: (app) => {
      handler = app
    },
    close,
    [Symbol.asyncDispose]: close,
  }
}
