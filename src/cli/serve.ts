import { Command } from 'commander'
import express from 'express'
import { options, type ServeOptions, serviceIdentity } from '../config.ts'
import { type AppContext, createIdResolver, resolvePublisherDid } from '../context.ts'
import { createDb, migrateDb } from '../db/index.ts'
import { createRegistry, type FeedModule, feeds, neededCollections } from '../feeds/index.ts'
import { createLogger } from '../logger.ts'
import { Metrics } from '../metrics.ts'
import { feedUri } from '../server/getFeedSkeleton.ts'
import { createApp, listen, metricsHandler } from '../server/index.ts'
import { version } from '../version.ts'
import { startIngestion } from './ingestion.ts'
import { untilSignal } from './signals.ts'

export function serveCommand(): Command {
  const cmd = new Command('serve').description(
    'ingest the event stream and serve the feeds over XRPC, in one process',
  )
  for (const o of Object.values(options)) cmd.addOption(o())
  return cmd.action(async (opts: ServeOptions) => {
    await serve(opts, untilSignal())
  })
}

export interface ServeHooks {
  /** the feeds to serve @default the registered feeds of src/feeds/index.ts */
  feeds?: readonly FeedModule[]
  /** called once the server answers, with the bound port */
  onReady?(ready: { ctx: AppContext; port: number }): void
}

/**
 * Runs until `signal` aborts, then stops in order: no new requests, the source stops, the
 * writer commits what it holds with its cursor, the database closes.
 */
export async function serve(
  opts: ServeOptions,
  signal: AbortSignal,
  hooks: ServeHooks = {},
): Promise<void> {
  const logger = createLogger(opts.logLevel, {
    format: opts.logFormat,
    secrets: opts.dbAuthToken ? [opts.dbAuthToken] : [],
  })
  logger.debug({ config: opts }, 'configuration')
  await using dbHandle = await createDb(opts.db, { authToken: opts.dbAuthToken })
  await migrateDb(dbHandle.db)
  const registry = createRegistry(hooks.feeds ?? feeds)
  const idResolver = createIdResolver(opts.plcUrl)

  await using http = await listen(opts.port, opts.listenHost)
  const identity = serviceIdentity({ ...opts, port: http.port })
  const ctx: AppContext = {
    version,
    identity,
    publisherDid: await resolvePublisherDid(opts, identity, idResolver),
    db: dbHandle.db,
    dbPath: dbHandle.path,
    feeds: registry,
    idResolver,
    logger,
    metrics: new Metrics({ dbPath: dbHandle.path, source: opts.source }),
  }
  http.serve(createApp(ctx, { metrics: opts.metricsPort === undefined }))
  await using metricsHttp =
    opts.metricsPort === undefined ? null : await listen(opts.metricsPort, opts.listenHost)
  metricsHttp?.serve(express().get('/metrics', metricsHandler(ctx.metrics)))
  logger.info(
    {
      port: http.port,
      serviceDid: identity.serviceDid,
      feeds: [...registry.keys()].map((id) => feedUri(ctx.publisherDid, id)),
    },
    `serving on http://${opts.listenHost}:${http.port}`,
  )
  hooks.onReady?.({ ctx, port: http.port })

  const stopIngest = new AbortController()
  const ingestion =
    opts.source === 'none'
      ? null
      : await startIngestion(
          { ...opts, source: opts.source },
          {
            db: dbHandle,
            logger,
            metrics: ctx.metrics,
            collections: neededCollections(registry),
          },
          stopIngest.signal,
        )
  const ingest = ingestion?.ingest
  // ingest only ends on its own when it fails for good: then stop serving rather than go stale
  const ingestFailed = ingest?.then(
    () => new Error('ingest ended without being asked to'),
    (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
  )
  const stopped = new Promise<null>((resolve) => {
    if (signal.aborted) resolve(null)
    signal.addEventListener('abort', () => resolve(null), { once: true })
  })
  const failure = await Promise.race([
    stopped,
    ...(ingestFailed === undefined ? [] : [ingestFailed]),
  ])
  logger.info({ reason: failure?.message ?? String(signal.reason) }, 'shutting down')
  await http.close()
  stopIngest.abort()
  await ingestFailed
  await ingestion?.retention
  logger.info('stopped')
  if (failure) throw failure
}
