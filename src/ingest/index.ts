import { readFile } from 'node:fs/promises'
import { eq } from 'drizzle-orm'
import type { Db } from '../db/index.ts'
import { cursors } from '../db/schema.ts'
import type { Logger } from '../logger.ts'
import { Channel } from './channel.ts'
import type { IngestEvent } from './events.ts'
import type { SkipReason, Source } from './source.ts'
import { type CommitFailure, type CommitInfo, runWriter } from './writer.ts'

export interface IngestConfig {
  source: 'jetstream' | 'firehose'
  jetstreamUrls: string[]
  jetstreamCompress: boolean
  /** path to Jetstream's zstd dictionary file; required with `jetstreamCompress` */
  jetstreamZstdDictionary?: string
  firehoseUrl: string
  /** the channel's high-water mark (events) */
  channelSize: number
  batchSize: number
  batchMs: number
  maxPostAgeMs: number
  stallTimeoutMs: number
  collections: string[]
}

/** What a committed batch looked like, with the channel's state at that moment. */
export interface BatchReport extends CommitInfo {
  /** events waiting in the channel after the batch was taken */
  depth: number
  /** the largest channel depth since the previous commit */
  peakDepth: number
}

/** Hooks for metrics: every event, skipped message and committed batch passes through here. */
export interface IngestObserver {
  received?(event: IngestEvent): void
  skipped?(reason: SkipReason): void
  status?(connected: boolean): void
  committed?(batch: BatchReport): void
  /** a commit failed and will be retried; the next `committed` means it works again */
  commitFailed?(failure: CommitFailure): void
}

export interface IngestDeps {
  db: Db
  logger: Logger
  observer?: IngestObserver
}

/**
 * Runs source -> channel -> writer until `signal` aborts, starting from the source's committed
 * cursor. On abort the source stops reading, the writer commits what the channel still holds
 * (with its cursor), then this resolves. It rejects if the writer cannot commit (the source is
 * stopped first) or if the source fails (after what it handed over is committed).
 */
export async function runIngest(
  deps: IngestDeps,
  config: IngestConfig,
  signal: AbortSignal,
): Promise<void> {
  const log = deps.logger.child({ component: 'ingest' })
  const source = await createSource(config)
  const cursor = await committedCursor(deps.db, source.key)
  log.info({ source: source.key, cursor }, 'ingest starting')

  const channel = new Channel<IngestEvent>(config.channelSize)
  const stop = new AbortController()
  const onAbort = () => stop.abort(signal.reason)
  if (signal.aborted) onAbort()
  else signal.addEventListener('abort', onAbort, { once: true })

  const writer = runWriter(channel, {
    client: deps.db.$client,
    sourceKey: source.key,
    batchSize: config.batchSize,
    batchMs: config.batchMs,
    logger: log,
    onCommit: (commit) => {
      const report = { ...commit, depth: channel.depth, peakDepth: channel.peak }
      channel.resetPeak()
      log.debug(report, 'batch committed')
      deps.observer?.committed?.(report)
    },
    onCommitError: (failure) => deps.observer?.commitFailed?.(failure),
    signal,
  }).then(
    () => null,
    (err: unknown) => {
      log.error({ err }, 'writer failed, stopping the source')
      stop.abort(err)
      return err
    },
  )

  const received = deps.observer?.received
  const sink = received
    ? {
        push: (event: IngestEvent) => {
          received(event)
          return channel.push(event)
        },
        writable: () => channel.writable(),
      }
    : channel
  const sourceErr = await source
    .run({
      cursor,
      sink,
      signal: stop.signal,
      logger: log,
      onSkip: (reason, cause) => {
        if (log.isLevelEnabled('debug')) log.debug({ reason, err: cause }, 'message skipped')
        deps.observer?.skipped?.(reason)
      },
      onStatus: (connected) => deps.observer?.status?.(connected),
    })
    .then(
      () => null,
      (err: unknown) => err,
    )
  signal.removeEventListener('abort', onAbort)
  // whatever the source handed over is committed before this returns
  channel.close()
  const writerErr = await writer
  if (writerErr) throw writerErr
  if (sourceErr) throw new Error(`${source.key} source failed`, { cause: sourceErr })
  log.info({ source: source.key }, 'ingest stopped')
}

/** Only the chosen source's module is loaded: the firehose's brings CAR and CBOR decoding. */
async function createSource(config: IngestConfig): Promise<Source> {
  const limits = { maxPostAgeMs: config.maxPostAgeMs }
  const { stallTimeoutMs, collections } = config
  switch (config.source) {
    case 'jetstream': {
      const { createJetstreamSource } = await import('./jetstream.ts')
      return createJetstreamSource({
        urls: config.jetstreamUrls,
        compress: config.jetstreamCompress,
        zstdDictionary: config.jetstreamZstdDictionary
          ? await readFile(config.jetstreamZstdDictionary)
          : undefined,
        stallTimeoutMs,
        collections,
        limits,
      })
    }
    case 'firehose': {
      const { createFirehoseSource } = await import('./firehose.ts')
      return createFirehoseSource({ url: config.firehoseUrl, stallTimeoutMs, collections, limits })
    }
  }
}

async function committedCursor(db: Db, key: string): Promise<number | null> {
  const rows = await db
    .select({ cursor: cursors.cursor })
    .from(cursors)
    .where(eq(cursors.source, key))
  return rows[0]?.cursor ?? null
}
