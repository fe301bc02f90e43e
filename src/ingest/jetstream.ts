import { isUtf8 } from 'node:buffer'
import { setTimeout as sleep } from 'node:timers/promises'
import { type ZstdOptions, zstdDecompressSync } from 'node:zlib'
import { validateCidString } from '@atproto/lex-data'
import { isValidDid, isValidRecordKey } from '@atproto/syntax'
import { WebSocket } from 'ws'
import type { Logger } from '../logger.ts'
import type { IngestEvent } from './events.ts'
import { isObject, type PostLimits, parsePost } from './post.ts'
import type { EventSink, SkipReason, Source, SourceRunOptions } from './source.ts'

const POST_COLLECTION = 'app.bsky.feed.post'
/** Jetstream cursors are µs timestamps: resume this far back, replay is idempotent */
const REWIND_US = 5_000_000
const DEFAULT_BACKOFF = { initialMs: 250, maxMs: 30_000 }
/** how long the socket is read before the event loop gets a turn (ms) */
const TURN_MS = 4
/** messages between looks at the clock */
const CLOCK_EVERY = 32
/** how far ahead of our clock an event's time_us may be: beyond, it is not Jetstream's */
const MAX_AHEAD_MS = 3_600_000

export interface JetstreamOptions {
  /** Jetstream instances to rotate through on failure: `wss://jetstream1.us-east.bsky.network` */
  urls: string[]
  /** ask for zstd-compressed frames (needs `zstdDictionary`) */
  compress: boolean
  /**
   * Jetstream's zstd dictionary (`pkg/models/zstd_dictionary` in bluesky-social/jetstream);
   * every compressed frame is encoded with it.
   */
  zstdDictionary?: Uint8Array
  /** reconnect when no message arrived for this long while reading (ms) */
  stallTimeoutMs: number
  /** `wantedCollections`; creates of `app.bsky.feed.post` become posts, deletes become deletes */
  collections: string[]
  limits: PostLimits
  /** reconnect delays: exponential from `initialMs`, capped at `maxMs`, with jitter */
  backoff?: { initialMs: number; maxMs: number }
}

/**
 * Jetstream over `ws` directly: `@skyware/jetstream` reconnects through partysocket, which can
 * neither pause the socket nor rotate hosts, and it has no zstd support.
 *
 * Mapping: creates of posts become `post` events; an update of a post is treated as a create
 * (stored if missing, ignored if present, since posts are not edited in place); deletes in a
 * wanted collection become `delete`; account events become `account`; everything else
 * (identity events, other collections, skipped posts) only moves the cursor.
 */
export function createJetstreamSource(opts: JetstreamOptions): Source {
  if (opts.urls.length === 0) throw new Error('jetstream: at least one url is needed')
  for (const url of opts.urls) subscribeUrl(url, [], null, false)
  if (opts.compress && !opts.zstdDictionary) {
    throw new Error(
      "jetstream: compress needs Jetstream's zstd dictionary (pkg/models/zstd_dictionary)",
    )
  }
  const backoff = opts.backoff ?? DEFAULT_BACKOFF
  const decoder = new Decoder(opts)

  return {
    // time_us cursors mean the same on every instance, so one key serves all urls
    key: 'jetstream',
    async run({ cursor, sink, signal, logger, onSkip, onStatus }: SourceRunOptions): Promise<void> {
      const log = logger.child({ source: 'jetstream' })
      const state: ConnectionState = { resume: cursor, sink, onSkip, decoder, log, signal }
      let urlIndex = 0
      let failures = 0
      while (!signal.aborted) {
        // never start reading a new connection into a full channel
        await untilAborted(sink.writable(), signal)
        if (signal.aborted) break
        const base = opts.urls[urlIndex] as string
        const from = state.resume === null ? null : state.resume - REWIND_US
        const url = subscribeUrl(base, opts.collections, from, opts.compress)
        const end = await connectOnce(url, state, opts.stallTimeoutMs, onStatus)
        if (signal.aborted) break
        failures = end.messages > 0 ? 1 : failures + 1
        urlIndex = (urlIndex + 1) % opts.urls.length
        const delay = backoffDelay(failures, backoff)
        log.warn(
          { url: base, reason: end.reason, messages: end.messages, retryInMs: delay },
          'jetstream connection ended, reconnecting',
        )
        await sleep(delay, undefined, { signal }).catch(() => undefined)
      }
    },
  }
}

interface ConnectionState {
  /** the newest cursor handed to the sink */
  resume: number | null
  sink: EventSink
  onSkip: SourceRunOptions['onSkip']
  decoder: Decoder
  log: Logger
  signal: AbortSignal
}

/** Runs one connection until it closes, stalls or `signal` aborts. */
function connectOnce(
  url: string,
  state: ConnectionState,
  stallTimeoutMs: number,
  onStatus: SourceRunOptions['onStatus'],
): Promise<{ messages: number; reason: string }> {
  const { sink, decoder, onSkip, log, signal } = state
  // The rewind replays events before the cursor already reached: they carry that cursor, not
  // their own, so the committed cursor never moves back (a crash loop cannot walk it backwards).
  const floor = state.resume
  return new Promise((resolve) => {
    // ws would close the connection on a text frame that is not UTF-8, and the reconnect would
    // be sent the same frame again: the decoder checks and skips it instead
    const ws = new WebSocket(url, { perMessageDeflate: false, skipUTF8Validation: true })
    let messages = 0
    let paused = false
    let closed = false
    let reason = 'closed'
    let seen = 0
    let lastActivity = performance.now()

    const stop = (why: string) => {
      reason = why
      ws.terminate()
    }
    const onAbort = () => stop('aborted')
    signal.addEventListener('abort', onAbort, { once: true })

    // Checking a counter on a timer costs nothing per message, unlike re-arming a timeout.
    const watchdog = setInterval(
      () => {
        const now = performance.now()
        if (paused || messages !== seen) {
          seen = messages
          lastActivity = now
        } else if (now - lastActivity >= stallTimeoutMs) {
          log.warn({ url, stallTimeoutMs }, 'jetstream stalled')
          stop('stalled')
        }
      },
      Math.max(10, Math.min(1000, stallTimeoutMs / 4)),
    )

    const resume = () => {
      if (closed) return
      paused = false
      if (!yielding) ws.resume()
    }
    // A socket with a backlog behind it is read many chunks per turn of the event loop: after
    // TURN_MS of messages the socket pauses until the next turn, so that feed requests are
    // still answered while catching up (bench/README.md).
    let sinceTurn = 0
    let turnStarted = 0
    let yielding = false
    const nextTurn = () => {
      yielding = false
      sinceTurn = 0
      if (!paused && !closed) ws.resume()
    }

    let opened = false
    ws.on('open', () => {
      opened = true
      onStatus?.(true)
      log.info({ url }, 'jetstream connected')
    })
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      // a terminated socket can still deliver the rest of the chunk it had read
      if (closed || signal.aborted) return
      messages++
      const event = decoder.decode(data, isBinary, onSkip)
      if (event === null) return
      if (floor !== null && event.cursor < floor) event.cursor = floor
      state.resume = event.cursor
      if (!sink.push(event) && !paused) {
        paused = true
        ws.pause()
        void sink.writable().then(resume)
      } else if (++sinceTurn === 1) {
        turnStarted = performance.now()
      } else if (
        sinceTurn % CLOCK_EVERY === 0 &&
        !yielding &&
        performance.now() - turnStarted >= TURN_MS
      ) {
        yielding = true
        ws.pause()
        setImmediate(nextTurn)
      }
    })
    ws.on('error', (err) => {
      if (reason === 'closed') reason = err.message
      log.debug({ err, url }, 'jetstream socket error')
    })
    ws.on('close', (code, why) => {
      closed = true
      clearInterval(watchdog)
      signal.removeEventListener('abort', onAbort)
      if (reason === 'closed') reason = `closed ${code} ${why.toString()}`.trim()
      if (opened) onStatus?.(false)
      resolve({ messages, reason })
    })
  })
}

/** Turns one Jetstream frame into an event, or null (reported through `onSkip`). */
class Decoder {
  readonly #wanted: Set<string>
  readonly #limits: PostLimits
  readonly #zstd: ZstdOptions | null

  constructor(opts: JetstreamOptions) {
    this.#wanted = new Set(opts.collections)
    this.#limits = opts.limits
    this.#zstd = opts.zstdDictionary ? { dictionary: opts.zstdDictionary } : null
  }

  decode(data: Buffer, isBinary: boolean, onSkip: SourceRunOptions['onSkip']): IngestEvent | null {
    let msg: unknown
    try {
      const text = isBinary && this.#zstd ? zstdDecompressSync(data, this.#zstd) : data
      if (!isUtf8(text)) throw new Error('frame is not UTF-8')
      msg = JSON.parse(text.toString())
    } catch (err) {
      onSkip('malformed', err)
      return null
    }
    if (!isObject(msg)) return skip(onSkip, 'malformed')
    const did = msg.did
    const cursor = msg.time_us
    // the did and rkey become a post's AT-URI: only canonical ones are let through
    if (!isValidDid(did) || typeof cursor !== 'number' || !Number.isSafeInteger(cursor)) {
      return skip(onSkip, 'malformed')
    }
    if (cursor <= 0) return skip(onSkip, 'malformed')
    // committed, a cursor from the future would make the next start skip everything before it
    if (cursor > (Date.now() + MAX_AHEAD_MS) * 1000) return skip(onSkip, 'future')
    const time = Math.floor(cursor / 1000)
    const result = this.#toEvent(msg, did, cursor, time)
    if (typeof result !== 'string') return result
    onSkip(result)
    // the frame was read: its cursor still moves, or a long run of skips would be replayed
    return { kind: 'cursor', cursor, time }
  }

  #toEvent(
    msg: Record<string, unknown>,
    did: string,
    cursor: number,
    time: number,
  ): IngestEvent | SkipReason {
    switch (msg.kind) {
      case 'commit': {
        const commit = msg.commit
        if (!isObject(commit)) return 'malformed'
        const { operation, collection, rkey } = commit
        if (typeof collection !== 'string' || typeof rkey !== 'string') return 'malformed'
        if (!this.#wanted.has(collection)) return { kind: 'cursor', cursor, time }
        if (!isValidRecordKey(rkey)) return 'malformed'
        const uri = `at://${did}/${collection}/${rkey}`
        if (operation === 'delete') return { kind: 'delete', cursor, time, collection, uri }
        if (operation !== 'create' && operation !== 'update') return 'malformed'
        if (collection !== POST_COLLECTION) return { kind: 'cursor', cursor, time }
        if (typeof commit.cid !== 'string' || !validateCidString(commit.cid)) return 'malformed'
        const raw = { uri, cid: commit.cid, author: did, record: commit.record, cursor, time }
        const post = parsePost(raw, this.#limits)
        return post.ok ? post.event : post.reason
      }
      case 'account': {
        const account = msg.account
        if (!isObject(account) || typeof account.active !== 'boolean') return 'malformed'
        const status = typeof account.status === 'string' ? account.status : null
        return { kind: 'account', cursor, time, did, active: account.active, status }
      }
      default:
        return { kind: 'cursor', cursor, time }
    }
  }
}

function skip(onSkip: SourceRunOptions['onSkip'], reason: SkipReason): null {
  onSkip(reason)
  return null
}

/** `<url>/subscribe?wantedCollections=...&cursor=...`; throws on a url that is not ws(s). */
export function subscribeUrl(
  base: string,
  collections: readonly string[],
  cursor: number | null,
  compress: boolean,
): string {
  let url: URL
  try {
    url = new URL(base)
  } catch (err) {
    throw new Error(`jetstream: invalid url ${JSON.stringify(base)}`, { cause: err })
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new Error(`jetstream: url must be ws:// or wss://, got ${JSON.stringify(base)}`)
  }
  url.pathname = `${url.pathname.replace(/\/+$/, '').replace(/\/subscribe$/, '')}/subscribe`
  url.search = ''
  for (const c of collections) url.searchParams.append('wantedCollections', c)
  if (cursor !== null) url.searchParams.set('cursor', String(cursor))
  if (compress) url.searchParams.set('compress', 'true')
  return url.toString()
}

/** Exponential in the number of consecutive failures, capped, with jitter in [50%, 100%]. */
function backoffDelay(failures: number, b: { initialMs: number; maxMs: number }): number {
  const full = Math.min(b.maxMs, b.initialMs * 2 ** Math.min(failures - 1, 30))
  return Math.round(full / 2 + (Math.random() * full) / 2)
}

function untilAborted(p: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve()
  return new Promise((resolve) => {
    const done = () => {
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
    void p.then(done)
  })
}
