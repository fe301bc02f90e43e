import type { Logger } from '../logger.ts'
import type { IngestEvent } from './events.ts'

/** Where a source hands its events: the writable end of the bounded channel. */
export interface EventSink {
  /**
   * Hands over one event; it is always accepted. `false` means the channel is at its high-water
   * mark: the source must stop reading its socket until `writable()` resolves.
   */
  push(event: IngestEvent): boolean
  /** Resolves once the channel has drained to its low-water mark (at once if it is below). */
  writable(): Promise<void>
}

/** Why an incoming message was not turned into an event; counted, logged, never fatal. */
export type SkipReason = 'malformed' | 'oversized' | 'too_old' | 'future' | 'unknown_type'

export interface SourceRunOptions {
  /** the last committed cursor, or null to start live */
  cursor: number | null
  sink: EventSink
  signal: AbortSignal
  logger: Logger
  /** called for every message that was skipped, with the reason */
  onSkip(reason: SkipReason, cause?: unknown): void
  /** called when the connection opens (true) and when it is lost (false) */
  onStatus?(connected: boolean): void
}

/**
 * A network event stream. `run` connects, reconnects with backoff (resuming from the newest
 * cursor it has handed to the sink), and returns only once `signal` is aborted.
 */
export interface Source {
  /** the key the source's cursor is committed under */
  readonly key: string
  run(opts: SourceRunOptions): Promise<void>
}
