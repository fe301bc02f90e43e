import { isCid, isCidForBytes } from '@atproto/lex-data'
import { type BlockMap, cborToLexRecord, readCar } from '@atproto/repo'
import { isValidDid, isValidRecordKey } from '@atproto/syntax'
import { websocket } from '@atproto/ws-client'
import { type ErrorFrame, Frame } from '@atproto/xrpc-server'
import type { Logger } from '../logger.ts'
import type { IngestEvent } from './events.ts'
import { isObject, type PostLimits, parsePost } from './post.ts'
import type { EventSink, Source, SourceRunOptions } from './source.ts'

const POST_COLLECTION = 'app.bsky.feed.post'
const MAX_RECONNECT_SECONDS = 30

export interface FirehoseOptions {
  /** a relay or a PDS: `wss://bsky.network`, `ws://localhost:2583` */
  url: string
  /** reconnect when no frame arrived for this long (noticed within 1x-2x of it) */
  stallTimeoutMs: number
  /** the collections whose records and deletes become events; the rest only move the cursor */
  collections: string[]
  limits: PostLimits
}

/**
 * `com.atproto.sync.subscribeRepos` from a relay or a PDS. Commit signatures and MST proofs are
 * not verified; each record is read from the commit's CAR blocks and checked against its CID.
 *
 * Every frame with a `seq` yields at least one event carrying it, so the cursor always moves.
 * When a frame yields several events, all but the last carry `seq - 1`: a cursor committed in
 * the middle of a frame then replays the whole frame rather than skipping the rest of it.
 */
export function createFirehoseSource(opts: FirehoseOptions): Source {
  const service = opts.url.replace(/\/+$/, '')
  const wanted = new Set(opts.collections)
  return {
    // seqs are per relay: a cursor from one host means nothing on another
    key: `firehose:${service}`,
    async run({ cursor, sink, signal, logger, onSkip, onStatus }: SourceRunOptions): Promise<void> {
      const log = logger.child({ source: 'firehose', url: service })
      let resumeFrom = cursor
      const ctx: FrameContext = {
        wanted,
        limits: opts.limits,
        onSkip,
        log,
        onErrorFrame: (frame) => {
          log.error({ error: frame.code, message: frame.message }, 'firehose error frame')
          if (frame.code === 'FutureCursor') {
            // the relay lost the history our cursor points into: waiting would stall forever
            log.error({ cursor: resumeFrom }, 'cursor is ahead of the relay, resuming live')
            resumeFrom = null
          }
        },
      }

      // Reconnecting (exponential backoff with jitter), the idle watchdog, and pausing the socket
      // while this loop does not pull all live in the client. The url is read again per dial.
      const frames = websocket(
        () => {
          const query = resumeFrom === null ? '' : `?cursor=${resumeFrom}`
          return `${service}/xrpc/com.atproto.sync.subscribeRepos${query}`
        },
        {
          dataMode: 'binary',
          signal,
          idleTimeoutMs: opts.stallTimeoutMs,
          maxReconnectSeconds: MAX_RECONNECT_SECONDS,
          // the loop ends on abort only: even a close the server calls final is retried
          shouldReconnect: () => true,
          onConnect: () => {
            onStatus?.(true)
            log.info({ cursor: resumeFrom }, 'firehose connected')
          },
          onReconnect: (err, { attempt }) => {
            onStatus?.(false)
            log.warn({ err, attempt, cursor: resumeFrom }, 'firehose connection lost')
          },
        },
      )
      try {
        for await (const bytes of frames) {
          for (const event of await decodeFrame(ctx, bytes)) {
            if (signal.aborted) break
            // a full sink stops the reading here, even within a frame
            if (!sink.push(event)) await untilWritable(sink, signal)
            resumeFrom = event.cursor
          }
        }
      } catch (err) {
        // the client rejects with the abort reason, once the socket is closed
        if (!signal.aborted) throw err
      }
      log.info({ cursor: resumeFrom }, 'firehose closed')
    },
  }
}

interface FrameContext {
  wanted: Set<string>
  limits: PostLimits
  onSkip: SourceRunOptions['onSkip']
  log: Logger
  onErrorFrame(frame: ErrorFrame): void
}

/** The events of one frame; empty only for frames without a seq (errors, info, garbage). */
async function decodeFrame(ctx: FrameContext, bytes: Uint8Array): Promise<IngestEvent[]> {
  let frame: ReturnType<typeof Frame.fromBytes>
  try {
    frame = Frame.fromBytes(bytes)
  } catch (err) {
    ctx.onSkip('malformed', err)
    return []
  }
  if (frame.isError()) {
    ctx.onErrorFrame(frame)
    return []
  }
  const { type, body } = frame
  if (type === '#info') {
    // no seq; OutdatedCursor means the events between our cursor and the oldest kept are lost
    ctx.log.warn({ info: body }, 'firehose info frame')
    return []
  }
  if (!isObject(body) || !isSeq(body.seq)) {
    ctx.onSkip('malformed', new Error(`${type} frame without a seq`))
    return []
  }
  const seq = body.seq
  const time = typeof body.time === 'string' ? Date.parse(body.time) : Number.NaN
  let events: IngestEvent[] = []
  if (Number.isNaN(time)) {
    ctx.onSkip('malformed', new Error(`${type} frame ${seq} without a valid time`))
  } else if (type === '#commit') {
    events = await commitEvents(ctx, body, seq, time)
  } else if (type === '#account') {
    events = accountEvents(ctx, body, seq, time)
  } else if (type !== '#identity' && type !== '#sync') {
    ctx.onSkip('unknown_type', new Error(`${type} frame ${seq}`))
  }
  if (events.length === 0) {
    return [{ kind: 'cursor', cursor: seq, time: Number.isNaN(time) ? Date.now() : time }]
  }
  for (const event of events.slice(0, -1)) event.cursor = seq - 1
  return events
}

function accountEvents(
  ctx: FrameContext,
  body: Record<string, unknown>,
  seq: number,
  time: number,
): IngestEvent[] {
  const { did, active, status } = body
  if (!isValidDid(did) || typeof active !== 'boolean') {
    ctx.onSkip('malformed', new Error(`account frame ${seq} of the wrong shape`))
    return []
  }
  const why = !active && typeof status === 'string' ? status : null
  return [{ kind: 'account', cursor: seq, time, did, active, status: why }]
}

async function commitEvents(
  ctx: FrameContext,
  body: Record<string, unknown>,
  seq: number,
  time: number,
): Promise<IngestEvent[]> {
  const { repo, ops, blocks } = body
  // the repo and the op's path become AT-URIs: only canonical ones are let through
  if (!isValidDid(repo) || !Array.isArray(ops) || !(blocks instanceof Uint8Array)) {
    ctx.onSkip('malformed', new Error(`commit frame ${seq} of the wrong shape`))
    return []
  }
  const events: IngestEvent[] = []
  let car: Promise<BlockMap> | undefined
  for (const op of ops) {
    const path = isObject(op) && typeof op.path === 'string' ? splitPath(op.path) : null
    if (path === null) {
      ctx.onSkip('malformed', new Error(`commit frame ${seq} has an op without a valid path`))
      continue
    }
    if (!ctx.wanted.has(path.collection)) continue
    const uri = `at://${repo}/${path.collection}/${path.rkey}`
    const { action, cid } = op as Record<string, unknown>
    if (action === 'delete') {
      events.push({ kind: 'delete', cursor: seq, time, collection: path.collection, uri })
      continue
    }
    if (action !== 'create' && action !== 'update') {
      ctx.onSkip('malformed', new Error(`${uri}: unknown op action ${String(action)}`))
      continue
    }
    // the union has no event for other records: their creates only move the cursor
    if (path.collection !== POST_COLLECTION) continue
    let record: unknown
    try {
      // the CAR is read only for commits that carry a wanted record, once per commit
      car ??= readCar(blocks, { skipCidVerification: true }).then((c) => c.blocks)
      record = await recordFromBlocks(await car, cid)
    } catch (err) {
      ctx.onSkip('malformed', new Error(`${uri}: cannot read the record`, { cause: err }))
      continue
    }
    const result = parsePost(
      { uri, cid: String(cid), author: repo, record, cursor: seq, time },
      ctx.limits,
    )
    if (result.ok) events.push(result.event)
    else ctx.onSkip(result.reason, uri)
  }
  return events
}

/** The record whose CID the op names, from the commit's blocks, after checking its hash. */
async function recordFromBlocks(blocks: BlockMap, cid: unknown): Promise<unknown> {
  if (!isCid(cid)) throw new Error('op without a cid')
  const bytes = blocks.get(cid)
  if (bytes === undefined) throw new Error(`block ${cid} is not in the commit`)
  if (!(await isCidForBytes(cid, bytes))) throw new Error(`block does not hash to ${cid}`)
  return cborToLexRecord(bytes)
}

/** Resolves once the sink takes events again, or at once on abort (the loop then ends). */
function untilWritable(sink: EventSink, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve()
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => resolve()
    signal.addEventListener('abort', onAbort, { once: true })
    sink.writable().then(
      () => {
        signal.removeEventListener('abort', onAbort)
        resolve()
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(err)
      },
    )
  })
}

function isSeq(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
}

function splitPath(path: string): { collection: string; rkey: string } | null {
  const slash = path.indexOf('/')
  const collection = path.slice(0, slash)
  const rkey = path.slice(slash + 1)
  if (slash <= 0 || !isValidRecordKey(rkey)) return null
  return { collection, rkey }
}
