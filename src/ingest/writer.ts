import { setTimeout as sleep, setImmediate as yieldToEventLoop } from 'node:timers/promises'
import type { Client, InStatement } from '@libsql/client'
import type { Logger } from '../logger.ts'
import type { Channel } from './channel.ts'
import { assertNever, type IngestEvent, type PostCreate } from './events.ts'
import { normalizeLangs } from './language.ts'

const POST_COLLECTION = 'app.bsky.feed.post'
/** attempts at a batch that fails for a reason retrying cannot fix, before giving up */
const COMMIT_ATTEMPTS = 5
const RETRY_BASE_MS = 200
const RETRY_MAX_MS = 5_000
/**
 * libSQL codes of a statement or a file that is wrong in itself (no such table, a constraint,
 * corruption): the writer gives up on these. Anything else (disk full, I/O, read-only, busy, a
 * remote server away) is the environment's and is retried for as long as it lasts.
 */
const PERMANENT_CODES = new Set([
  'SQLITE_ERROR',
  'SQLITE_CONSTRAINT',
  'SQLITE_MISMATCH',
  'SQLITE_TOOBIG',
  'SQLITE_RANGE',
  'SQLITE_CORRUPT',
  'SQLITE_NOTADB',
])

// Every statement takes its rows as one JSON array parameter, so the SQL text is constant
// (prepared cheaply, cacheable by remote libSQL servers) whatever the batch size, and no
// per-value binding runs in JS.
const INSERT_POSTS = `INSERT INTO posts (uri, cid, author, text, created_at, indexed_at, reply_root,
  reply_parent, declared_langs, detected_lang, lang_confidence)
SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6, value->>7,
  value->>8, value->>9, value->>10
FROM json_each(?) WHERE true
ON CONFLICT (uri) DO NOTHING`

// Joined on the stored row, so an event for a post that exists already (a replay, an update
// treated as a create) adds no language rows under a different indexed_at.
const INSERT_POST_LANGS = `INSERT INTO post_langs (lang, indexed_at, uri, source)
SELECT v.value->>0, p.indexed_at, p.uri, v.value->>3
FROM json_each(?) v JOIN posts p ON p.uri = v.value->>2 AND p.indexed_at = v.value->>1
WHERE true
ON CONFLICT DO NOTHING`

const DELETE_LANGS_BY_URI = 'DELETE FROM post_langs WHERE uri IN (SELECT value FROM json_each(?))'
const DELETE_POSTS_BY_URI = 'DELETE FROM posts WHERE uri IN (SELECT value FROM json_each(?))'
const DELETE_LANGS_BY_AUTHOR = `DELETE FROM post_langs WHERE uri IN
  (SELECT uri FROM posts WHERE author IN (SELECT value FROM json_each(?)))`
const DELETE_POSTS_BY_AUTHOR = 'DELETE FROM posts WHERE author IN (SELECT value FROM json_each(?))'
const SAVE_CURSOR = `INSERT INTO cursors (source, cursor, updated_at) VALUES (?, ?, ?)
ON CONFLICT (source) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at`

export interface WriterOptions {
  /** the libSQL client behind the app's `Db` (`db.$client`) */
  client: Client
  /** the source's key in the `cursors` table */
  sourceKey: string
  /** the most events per transaction */
  batchSize: number
  /** how long a partial batch waits for more after its first event (ms) */
  batchMs: number
  logger: Logger
  /** called after every commit */
  onCommit?(commit: CommitInfo): void
  /** called after every failed attempt at a commit; the batch is tried again after `retryInMs` */
  onCommitError?(failure: CommitFailure): void
  /** shutdown: a batch that keeps failing is given up (to be replayed from the cursor) */
  signal?: AbortSignal
}

export interface CommitFailure {
  error: unknown
  /** failed attempts at this batch so far */
  attempt: number
  events: number
  retryInMs: number
}

export interface CommitInfo {
  /** the source cursor now committed */
  cursor: number
  /** the network time (ms) of the batch's last event */
  time: number
  /** events in the batch */
  events: number
  /** post creates in the batch (inserted unless already stored) */
  posts: number
  durationMs: number
}

/**
 * The one writer: drains `channel` in batches and commits each batch's rows together with the
 * source cursor, in one transaction. Returns once the channel is closed and empty. A batch that
 * fails to commit is retried with capped backoff for as long as the database refuses it (disk
 * full, read-only, unreachable): the channel fills meanwhile and the source pauses, so nothing is
 * lost and the committed cursor stays at the last durable batch. The writer rejects, with the
 * error as `cause`, only when the batch itself cannot succeed (see `PERMANENT_CODES`) or when
 * `signal` aborts while the batch is failing.
 */
export async function runWriter(channel: Channel<IngestEvent>, opts: WriterOptions): Promise<void> {
  for (;;) {
    const batch = await channel.take(opts.batchSize, opts.batchMs)
    if (batch.length === 0) return
    const started = performance.now()
    const { posts, cursor } = await commitWithRetry(opts, batch)
    opts.onCommit?.({
      cursor,
      time: (batch.at(-1) as IngestEvent).time,
      events: batch.length,
      posts,
      durationMs: performance.now() - started,
    })
    // A local commit completes synchronously and a full channel hands over the next batch at
    // once: without a turn of the event loop here, a backlog is written in one run of microtasks
    // while every HTTP request waits behind it.
    await yieldToEventLoop()
  }
}

async function commitWithRetry(
  opts: WriterOptions,
  batch: IngestEvent[],
): Promise<{ posts: number; cursor: number }> {
  for (let attempt = 1; ; attempt++) {
    try {
      const done = await writeBatch(opts.client, opts.sourceKey, batch)
      if (attempt > 1) opts.logger.info({ failedAttempts: attempt - 1 }, 'writer: committing again')
      return done
    } catch (err) {
      const permanent = PERMANENT_CODES.has(errorCode(err))
      if ((permanent && attempt >= COMMIT_ATTEMPTS) || opts.signal?.aborted) {
        throw new Error(`writer: batch of ${batch.length} events failed to commit`, { cause: err })
      }
      const retryInMs = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.min(attempt - 1, 16))
      opts.logger.error(
        { err, attempt, events: batch.length, retryInMs },
        'writer: commit failed; ingest is paused and the batch will be retried',
      )
      opts.onCommitError?.({ error: err, attempt, events: batch.length, retryInMs })
      await sleep(retryInMs, undefined, { signal: opts.signal }).catch(() => undefined)
    }
  }
}

/** The libSQL error code (`SQLITE_FULL`, ...) of `err` or its cause, or '' */
export function errorCode(err: unknown): string {
  for (let e = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string') return code
  }
  return ''
}

/**
 * Applies `events` in order and saves the last one's cursor under `sourceKey`, in one
 * transaction. Idempotent: replaying events that are stored already changes nothing.
 */
export async function writeBatch(
  client: Client,
  sourceKey: string,
  events: readonly IngestEvent[],
): Promise<{ posts: number; cursor: number }> {
  const last = events.at(-1)
  if (last === undefined) throw new Error('writeBatch needs at least one event')
  const plan = planBatch(events)
  const stmts: InStatement[] = []
  if (plan.deleteUris.length > 0) {
    const args = [JSON.stringify(plan.deleteUris)]
    stmts.push({ sql: DELETE_LANGS_BY_URI, args }, { sql: DELETE_POSTS_BY_URI, args })
  }
  if (plan.deleteAuthors.length > 0) {
    const args = [JSON.stringify(plan.deleteAuthors)]
    stmts.push({ sql: DELETE_LANGS_BY_AUTHOR, args }, { sql: DELETE_POSTS_BY_AUTHOR, args })
  }
  if (plan.creates.size > 0) {
    const posts: unknown[] = []
    const langs: unknown[] = []
    for (const post of plan.creates.values()) {
      posts.push(postRow(post))
      addLangRows(langs, post)
    }
    stmts.push({ sql: INSERT_POSTS, args: [JSON.stringify(posts)] })
    if (langs.length > 0) stmts.push({ sql: INSERT_POST_LANGS, args: [JSON.stringify(langs)] })
  }
  stmts.push({ sql: SAVE_CURSOR, args: [sourceKey, last.cursor, Date.now()] })
  await client.batch(stmts, 'write')
  return { posts: plan.posts, cursor: last.cursor }
}

interface BatchPlan {
  /** the creates that survive the batch, first occurrence per uri */
  creates: Map<string, PostCreate>
  deleteUris: string[]
  deleteAuthors: string[]
  posts: number
}

/**
 * Folds a batch into deletes followed by inserts with the same end state as applying it event by
 * event: a create is dropped by any later delete of its post or takedown of its author, and a
 * create that comes after a delete is inserted after the delete runs.
 */
function planBatch(events: readonly IngestEvent[]): BatchPlan {
  const plan: BatchPlan = { creates: new Map(), deleteUris: [], deleteAuthors: [], posts: 0 }
  for (const event of events) {
    switch (event.kind) {
      case 'post':
        plan.posts++
        if (!plan.creates.has(event.uri)) plan.creates.set(event.uri, event)
        break
      case 'delete':
        if (event.collection !== POST_COLLECTION) break
        plan.creates.delete(event.uri)
        plan.deleteUris.push(event.uri)
        break
      case 'account':
        if (event.active) break
        for (const [uri, post] of plan.creates) {
          if (post.author === event.did) plan.creates.delete(uri)
        }
        plan.deleteAuthors.push(event.did)
        break
      case 'cursor':
        break
      default:
        assertNever(event)
    }
  }
  return plan
}

function postRow(p: PostCreate): unknown[] {
  return [
    p.uri,
    p.cid,
    p.author,
    p.text,
    p.createdAt,
    p.time,
    p.replyRoot,
    p.replyParent,
    p.declaredLangs,
    p.detectedLang,
    p.langConfidence,
  ]
}

type LangSource = 'declared' | 'detected' | 'both'

/** One row per language the post counts as, plus the macrolanguage `no` for nb and nn. */
function addLangRows(out: unknown[], p: PostCreate): void {
  let norwegian = false
  let hasNo = false
  // declared tags as the detector reads them: 'nb-NO', 'nob' -> 'nb'
  const declared = normalizeLangs(p.declaredLangs)
  for (const lang of p.langs) {
    out.push([lang, p.time, p.uri, langSource(p, declared, lang)])
    if (lang === 'nb' || lang === 'nn') norwegian = true
    else if (lang === 'no') hasNo = true
  }
  if (norwegian && !hasNo) out.push(['no', p.time, p.uri, norwegianSource(p, declared)])
}

function langSource(p: PostCreate, declared: readonly string[], lang: string): LangSource {
  if (!declared.includes(lang)) return 'detected'
  return lang === p.detectedLang ? 'both' : 'declared'
}

const NORWEGIAN = new Set(['no', 'nb', 'nn'])

function norwegianSource(p: PostCreate, declaredLangs: readonly string[]): LangSource {
  const declared = declaredLangs.some((tag) => NORWEGIAN.has(tag))
  const detected = p.detectedLang !== null && NORWEGIAN.has(p.detectedLang)
  if (declared && detected) return 'both'
  return declared ? 'declared' : 'detected'
}
