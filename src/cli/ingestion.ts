import type { ServeOptions } from '../config.ts'
import type { DbHandle } from '../db/index.ts'
import { runRetention } from '../db/retention.ts'
import type { Logger } from '../logger.ts'
import type { Metrics } from '../metrics.ts'

/**
 * The writing half of feedgen, as `serve` and `ingest` both run it: the source into the writer,
 * and retention pruning beside it (pruning writes, so only the process that ingests prunes).
 * Both settle once `signal` aborts; `ingest` also rejects when ingest fails for good.
 */
export async function startIngestion(
  opts: ServeOptions & { source: 'jetstream' | 'firehose' },
  deps: { db: DbHandle; logger: Logger; metrics: Metrics; collections: string[] },
  signal: AbortSignal,
): Promise<{ ingest: Promise<void>; retention: Promise<void> }> {
  // loaded only when ingesting: a read-only replica (--source none) never loads the detector
  const { runIngest } = await import('../ingest/index.ts')
  const ingest = runIngest(
    { db: deps.db.db, logger: deps.logger, observer: deps.metrics.observer() },
    {
      source: opts.source,
      jetstreamUrls: opts.jetstreamUrl,
      jetstreamCompress: opts.jetstreamCompress ?? false,
      ...(opts.jetstreamZstdDictionary
        ? { jetstreamZstdDictionary: opts.jetstreamZstdDictionary }
        : {}),
      firehoseUrl: opts.firehoseUrl,
      channelSize: opts.channelSize,
      batchSize: opts.batchSize,
      batchMs: opts.batchMs,
      maxPostAgeMs: opts.maxPostAge,
      stallTimeoutMs: opts.stallTimeout,
      collections: deps.collections,
    },
    signal,
  )
  const retention =
    opts.retention > 0
      ? runRetention(
          deps.db.client,
          {
            retentionMs: opts.retention,
            logger: deps.logger,
            onPrune: (result) => deps.metrics.postsPruned.inc(result.posts),
          },
          signal,
        )
      : Promise.resolve()
  return { ingest, retention }
}
