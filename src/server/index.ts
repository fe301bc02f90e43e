import { once } from 'node:events'
import {
  createServer as createHttpServer,
  type Server as HttpServer,
  type RequestListener,
} from 'node:http'
import type { AddressInfo } from 'node:net'
import { ids, schemas } from '@atproto/api'
import { createServer as createXrpcServer } from '@atproto/xrpc-server'
import { sql } from 'drizzle-orm'
import express, { type Express, type RequestHandler } from 'express'
import type { AppContext } from '../context.ts'
import type { Metrics } from '../metrics.ts'
import { describeFeedGenerator } from './describeFeedGenerator.ts'
import { getFeedSkeleton } from './getFeedSkeleton.ts'

/** The HTTP app: did.json, health, and the XRPC methods (params validated by the lexicons). */
export function createApp(ctx: AppContext, opts: { metrics: boolean }): Express {
  const app = express()
  app.disable('x-powered-by')
  app.set('trust proxy', true)

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

  app.get('/xrpc/_health', async (_req, res) => {
    try {
      await ctx.db.run(sql`select 1`)
      res.json({ version: ctx.version })
    } catch (err) {
      ctx.logger.warn({ err }, 'health check: database did not answer')
      res.status(503).json({ version: ctx.version, error: 'database unavailable' })
    }
  })

  if (opts.metrics) app.get('/metrics', metricsHandler(ctx.metrics))
  app.use(`/xrpc/${ids.AppBskyFeedGetFeedSkeleton}`, feedRequestMetrics(ctx))

  const xrpc = createXrpcServer(schemas, {
    payload: { jsonLimit: 100 * 1024, blobLimit: 0, textLimit: 100 * 1024 },
  })
  getFeedSkeleton(xrpc, ctx)
  describeFeedGenerator(xrpc, ctx)
  app.use(xrpc.router)
  return app
}

/** Prometheus text format; also served alone on --metrics-port. */
export function metricsHandler(metrics: Metrics): RequestHandler {
  return async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics())
  }
}

/** Counts and times feed requests; the label is a known feed id or `unknown`, never raw input. */
function feedRequestMetrics(ctx: AppContext): RequestHandler {
  return (req, res, next) => {
    const started = performance.now()
    res.once('finish', () => {
      const rkey =
        String(req.query.feed ?? '')
          .split('/')
          .pop() ?? ''
      const feed = ctx.feeds.has(rkey) ? rkey : 'unknown'
      ctx.metrics.feedRequests.labels(feed, String(res.statusCode)).inc()
      ctx.metrics.feedRequestDuration.labels(feed).observe((performance.now() - started) / 1000)
    })
    next()
  }
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
