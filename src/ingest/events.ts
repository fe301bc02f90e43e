/**
 * What every source yields, whatever its wire format. A union on `kind`: a `switch` over it ends
 * in an exhaustive `never` check, so a new kind cannot be ignored by accident.
 *
 * `cursor` is the source's own position (Jetstream `time_us`, firehose `seq`); `time` is the
 * event's time in ms since the epoch as the network saw it (not the author's `createdAt`).
 */
export type IngestEvent = PostCreate | RecordDelete | AccountStatus | CursorOnly

interface EventBase {
  cursor: number
  time: number
}

export interface PostCreate extends EventBase {
  kind: 'post'
  uri: string
  cid: string
  author: string
  text: string
  /** the record's createdAt in ms */
  createdAt: number
  replyRoot: string | null
  replyParent: string | null
  declaredLangs: string[]
  /** the languages the post counts as (see src/ingest/language.ts) */
  langs: string[]
  detectedLang: string | null
  langConfidence: number
}

export interface RecordDelete extends EventBase {
  kind: 'delete'
  collection: string
  uri: string
}

/** An account was taken down, deleted, suspended or deactivated (active: false), or came back. */
export interface AccountStatus extends EventBase {
  kind: 'account'
  did: string
  active: boolean
  status: string | null
}

/** Moves the cursor for an event that carries nothing to store (identity, other collections). */
export interface CursorOnly extends EventBase {
  kind: 'cursor'
}

export function assertNever(value: never): never {
  throw new Error(`unhandled event: ${JSON.stringify(value)}`)
}
