import { Command } from 'commander'
import express from 'express'
import { ConfigError, options, type ServeOptions } from '../config.ts'
import { createDb, migrateDb } from '../db/index.ts'
import { createRegistry, feeds, neededCollections } from '../feeds/index.ts'
import { createLogger } from '../logger.ts'
import { Metrics } from '../metrics.ts'
import { healthHandler, listen, metricsHandler } from '../server/index.ts'
import { version } from '../version.ts'
import { startIngestion } from './ingestion.ts'
import { untilSignal } from './signals.ts'

/** serve's flags that describe the feeds' XRPC identity: they mean nothing to a writer alone */
const SERVING_ONLY = new Set([
  'hostname',
  'serviceDid',
  'publisherDid',
  'publisherHandle',
  'plcUrl',
  'metricsPort',
])

export function ingestCommand(): Command {
  const cmd = new Command('ingest').description(
    'ingest only: the one writer beside read-only `serve --source none` replicas of the same database; answers /xrpc/_health and /metrics on --port',
  )
  for (const [name, o] of Object.entries(options)) if (!SERVING_ONLY.has(name)) cmd.addOption(o())
  return cmd.action(async (opts: ServeOptions) => {
    await ingest(opts, untilSignal())
  })
}

/** Runs the source, the writer and retention until `signal` aborts, then commits and closes. */
export async function ingest(opts: ServeOptions, signal: AbortSignal): Promise<void> {
  const { source } = opts
  if (source === 'none')
    throw new ConfigError('ingest needs a source: --source jetstream or firehose')
  const logger = createLogger(opts.logLevel, {
    format: opts.logFormat,
    secrets: opts.dbAuthToken ? [opts.dbAuthToken] : [],
  })
  await using db = await createDb(opts.db, { authToken: opts.dbAuthToken })
  await migrateDb(db.db)
  const metrics = new Metrics({ dbPath: db.path, source })

  await using http = await listen(opts.port, opts.listenHost)
  http.serve(
    express()
      .get('/xrpc/_health', healthHandler({ db: db.db, metrics, version, logger }))
      .get('/metrics', metricsHandler(metrics)),
  )
  logger.info({ port: http.port }, `ingesting; health and metrics on port ${http.port}`)

  const stop = new AbortController()
  const collections = neededCollections(createRegistry(feeds))
  const { ingest, retention } = await startIngestion(
    { ...opts, source },
    { db, logger, metrics, collections },
    stop.signal,
  )
  const onAbort = () => stop.abort(signal.reason)
  if (signal.aborted) onAbort()
  else signal.addEventListener('abort', onAbort, { once: true })
  try {
    await ingest
    if (!signal.aborted) throw new Error('ingest ended without being asked to')
  } finally {
    stop.abort()
    await retention
    await http.close()
    logger.info('stopped')
  }
}
