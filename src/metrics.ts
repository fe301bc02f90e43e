import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import { fileBytes } from './db/stats.ts'
import type { IngestEvent } from './ingest/events.ts'
import type { BatchReport, IngestObserver } from './ingest/index.ts'
import type { SkipReason } from './ingest/source.ts'
import { errorCode } from './ingest/writer.ts'

/**
 * The Prometheus metrics of one feedgen process, in a registry of its own (no global state, so
 * two instances in one test process do not collide). Also keeps the few live figures the status
 * page shows.
 */
export class Metrics {
  readonly registry = new Registry()

  readonly eventsReceived = new Counter({
    name: 'feedgen_events_received_total',
    help: 'Events received from the source, by source and kind',
    labelNames: ['source', 'kind'] as const,
    registers: [this.registry],
  })
  readonly eventsSkipped = new Counter({
    name: 'feedgen_events_skipped_total',
    help: 'Messages from the source that were not stored, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  })
  readonly postsWritten = new Counter({
    name: 'feedgen_posts_written_total',
    help: 'Post creates committed (replays of stored posts included)',
    registers: [this.registry],
  })
  readonly batchSize = new Histogram({
    name: 'feedgen_batch_size',
    help: 'Events per committed batch',
    buckets: [1, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10000],
    registers: [this.registry],
  })
  readonly commitDuration = new Histogram({
    name: 'feedgen_commit_duration_seconds',
    help: 'Time to commit one batch',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  })
  readonly ingestLag = new Gauge({
    name: 'feedgen_ingest_lag_seconds',
    help: 'Now minus the network time of the newest committed event',
    registers: [this.registry],
    collect: () => {
      if (this.lastEventTime !== null) {
        this.ingestLag.set(Math.max(0, (Date.now() - this.lastEventTime) / 1000))
      }
    },
  })
  readonly channelDepth = new Gauge({
    name: 'feedgen_channel_depth',
    help: 'Events waiting between the source and the writer',
    registers: [this.registry],
  })
  readonly sourceConnected = new Gauge({
    name: 'feedgen_source_connected',
    help: '1 while the source is connected',
    labelNames: ['source'] as const,
    registers: [this.registry],
  })
  readonly reconnects = new Counter({
    name: 'feedgen_source_reconnects_total',
    help: 'Connections to the source that were lost',
    labelNames: ['source'] as const,
    registers: [this.registry],
  })
  readonly feedRequests = new Counter({
    name: 'feedgen_feed_requests_total',
    help: 'getFeedSkeleton requests by feed and HTTP status',
    labelNames: ['feed', 'status'] as const,
    registers: [this.registry],
  })
  readonly feedRequestDuration = new Histogram({
    name: 'feedgen_feed_request_duration_seconds',
    help: 'getFeedSkeleton response time by feed',
    labelNames: ['feed'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  })
  readonly commitErrors = new Counter({
    name: 'feedgen_commit_errors_total',
    help: 'Failed attempts at committing a batch, by libSQL error code (the batch is retried)',
    labelNames: ['code'] as const,
    registers: [this.registry],
  })
  readonly writerFailing = new Gauge({
    name: 'feedgen_writer_failing',
    help: '1 while the last attempt at a commit failed: ingest is paused, serving goes on',
    registers: [this.registry],
  })
  readonly jwtFailures = new Counter({
    name: 'feedgen_jwt_failures_total',
    help: 'Service-auth tokens refused, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  })
  readonly postsPruned = new Counter({
    name: 'feedgen_posts_pruned_total',
    help: 'Posts removed by retention (--retention)',
    registers: [this.registry],
  })

  /** network time (ms) of the newest committed event */
  lastEventTime: number | null = null
  /** the source's connection state, for the status page */
  connected = false
  /** whether the writer's last attempt at a commit failed, for /xrpc/_health */
  failing = false

  readonly #source: string
  readonly #received = new Map<IngestEvent['kind'], Counter.Internal>()
  /** committed events per 10 s bucket, oldest first, one hour at most: the status page's chart */
  readonly #rate: number[] = []
  #bucket = 0
  #bucketStart = Date.now()

  /** `jetstream`, `firehose`, or `none` when this process does not ingest */
  get source(): string {
    return this.#source
  }

  constructor(opts: { dbPath: string | null; source: string }) {
    collectDefaultMetrics({ register: this.registry, prefix: 'feedgen_' })
    const { dbPath } = opts
    this.#source = opts.source
    new Gauge({
      name: 'feedgen_db_size_bytes',
      help: 'Size of the database file and its WAL',
      registers: [this.registry],
      collect() {
        if (dbPath) this.set(fileBytes(dbPath) + fileBytes(`${dbPath}-wal`))
      },
    })
  }

  /** The hooks runIngest calls. */
  observer(): IngestObserver {
    const source = this.#source
    return {
      received: (event) => {
        let counter = this.#received.get(event.kind)
        if (!counter) {
          counter = this.eventsReceived.labels(source, event.kind)
          this.#received.set(event.kind, counter)
        }
        counter.inc()
      },
      skipped: (reason: SkipReason) => this.eventsSkipped.labels(reason).inc(),
      status: (connected) => {
        this.connected = connected
        this.sourceConnected.labels(source).set(connected ? 1 : 0)
        if (!connected) this.reconnects.labels(source).inc()
      },
      committed: (batch: BatchReport) => {
        this.postsWritten.inc(batch.posts)
        this.batchSize.observe(batch.events)
        this.commitDuration.observe(batch.durationMs / 1000)
        this.channelDepth.set(batch.depth)
        this.lastEventTime = batch.time
        this.#roll(Date.now())
        this.#bucket += batch.events
        this.#setFailing(false)
      },
      commitFailed: (failure) => {
        this.commitErrors.labels(errorCodeLabel(failure.error)).inc()
        this.#setFailing(true)
      },
    }
  }

  /** For /xrpc/_health: null when this process does not ingest (a read replica). */
  ingestHealth(): 'ok' | 'failing' | null {
    if (this.#source === 'none') return null
    return this.failing ? 'failing' : 'ok'
  }

  #setFailing(failing: boolean): void {
    this.failing = failing
    this.writerFailing.set(failing ? 1 : 0)
  }

  /** Committed events per second in each 10 s of the last hour, oldest first. */
  recentRate(): number[] {
    this.#roll(Date.now())
    return this.#rate.map((n) => n / 10)
  }

  #roll(now: number): void {
    const elapsed = Math.floor((now - this.#bucketStart) / 10_000)
    if (elapsed <= 0) return
    this.#rate.push(this.#bucket, ...new Array<number>(Math.min(elapsed - 1, 360)).fill(0))
    if (this.#rate.length > 360) this.#rate.splice(0, this.#rate.length - 360)
    this.#bucket = 0
    this.#bucketStart += elapsed * 10_000
  }
}

/** A libSQL code such as SQLITE_FULL; anything else is one label, to bound cardinality. */
function errorCodeLabel(err: unknown): string {
  const code = errorCode(err)
  return /^(SQLITE|HRANA|SERVER)_[A-Z_]{1,40}$/.test(code) ? code : 'other'
}
