import { once } from 'node:events'
import type { AddressInfo, Socket } from 'node:net'
import { setImmediate as yieldLoop } from 'node:timers/promises'
import { zstdCompressSync } from 'node:zlib'
import { type WebSocket, WebSocketServer } from 'ws'

/** what a connection may queue in user space before the server waits for the socket */
const HIGH_WATER_BYTES = 256 * 1024

/** One event in Jetstream's JSON shape. */
export interface JetstreamEvent {
  did: string
  time_us: number
  kind: 'commit' | 'identity' | 'account'
  commit?: {
    rev: string
    operation: 'create' | 'update' | 'delete'
    collection: string
    rkey: string
    record?: Record<string, unknown>
    cid?: string
  }
  identity?: { did: string; handle?: string; seq: number; time: string }
  account?: { active: boolean; did: string; seq: number; time: string; status?: string }
}

/**
 * What the server replays: an event, or a raw text frame sent as it is (malformed input): a
 * string, or bytes that need not be UTF-8.
 */
export type ReplayFrame = JetstreamEvent | string | Uint8Array

export function isEvent(frame: ReplayFrame | undefined): frame is JetstreamEvent {
  return typeof frame === 'object' && !(frame instanceof Uint8Array)
}

/**
 * How a connection goes wrong: `drop` ends the TCP connection abruptly; `stall` goes silent and
 * keeps it open; `truncate` sends the first half of a frame's bytes, then ends the connection;
 * `error` closes it with status 1011 and a reason, as Jetstream does on an internal error.
 */
export type Fault = 'drop' | 'stall' | 'truncate' | 'error'

export interface JetstreamServerOptions {
  events?: ReplayFrame[]
  /**
   * Where a connection without `cursor` starts: `'oldest'` (the default, handy for replays) or
   * `'live'` (real Jetstream: only events appended after it connected).
   */
  noCursor?: 'oldest' | 'live'
  /** for `compress=true`: frames are zstd with this dictionary */
  zstdDictionary?: Uint8Array
  /** encode every frame of `events` at start, so that a replay runs at socket speed (benchmarks) */
  encodeAhead?: boolean
}

export interface ConnectionInfo {
  cursor: number | null
  wantedCollections: string[]
  compress: boolean
  /** events sent on this connection */
  sent: number
  /** `time_us` of the first and the last event sent on it */
  firstTimeUs: number | null
  lastTimeUs: number | null
  /** true once a `stall` fault silenced it */
  stalled: boolean
  /** how the connection ended: by the client, a drop knob, or still open */
  ended: 'client' | 'dropped' | 'truncated' | 'error' | 'server-closed' | null
}

export interface JetstreamServer extends AsyncDisposable {
  /** `ws://127.0.0.1:<port>`, to be used as a Jetstream base url */
  url: string
  /** one entry per connection, in order */
  connections: ConnectionInfo[]
  /** events sent on all connections */
  readonly sent: number
  /** adds live events, sent to every connection once it has caught up */
  append(frames: ReplayFrame[]): void
  /** the next `n` events sent (on any connection) are followed by an abrupt drop of that one */
  dropAfter(n: number): void
  /** after the next `n` events the connection that sent them goes silent but stays open */
  stallAfter(n: number): void
  /** after the next `n` events (on any connection) `fault` happens to the one that sent them */
  faultAfter(n: number, fault: Fault): void
  /**
   * A restart of the server: every connection is dropped, and with `oldestUs` the events before
   * that time are gone, as when a Jetstream instance comes back with a shorter history. A cursor
   * from before then resumes at the oldest event kept.
   */
  restart(opts?: { oldestUs?: number }): void
  /** resolves once `n` connections have been made in total */
  waitForConnections(n: number): Promise<void>
  close(): Promise<void>
}

interface Conn {
  ws: WebSocket
  info: ConnectionInfo
  wanted: Set<string>
  next: number
}

/**
 * A Jetstream-protocol replay server on a real `ws` server (127.0.0.1, port 0). It honours
 * `wantedCollections` (commits only; identity and account events always go out), `cursor`
 * (events with `time_us >= cursor`) and `compress=true`, and sends as fast as the client reads:
 * once 256 KiB are queued it waits for the socket to flush, so memory stays bounded.
 */
export async function startJetstreamServer(
  opts: JetstreamServerOptions = {},
): Promise<JetstreamServer> {
  const log: ReplayFrame[] = [...(opts.events ?? [])]
  const text: (string | Buffer | undefined)[] = []
  const zstd: (Buffer | undefined)[] = []
  const conns = new Set<Conn>()
  const connections: ConnectionInfo[] = []
  let sent = 0
  let fault: { in: number; kind: Fault } | null = null
  // the first index of the log still kept (see restart)
  let oldest = 0
  let wake: (() => void) | null = null
  let woken = new Promise<void>((r) => {
    wake = r
  })
  const connectionWaiters: { n: number; resolve: () => void }[] = []

  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false })
  await once(wss, 'listening')
  const { port } = wss.address() as AddressInfo

  const encode = (i: number, compress: boolean): string | Buffer => {
    const frame = log[i] as ReplayFrame
    text[i] ??= frame instanceof Uint8Array ? Buffer.from(frame) : asText(frame)
    const json = text[i] as string | Buffer
    if (!compress) return json
    if (!opts.zstdDictionary) throw new Error('compress=true needs a zstdDictionary')
    zstd[i] ??= zstdCompressSync(Buffer.from(json), { dictionary: opts.zstdDictionary })
    return zstd[i] as Buffer
  }

  if (opts.encodeAhead) for (let i = 0; i < log.length; i++) encode(i, false)

  const firstAtOrAfter = (cursor: number): number => {
    for (let i = oldest; i < log.length; i++) {
      const f = log[i]
      if (isEvent(f) && f.time_us >= cursor) return i
    }
    return log.length
  }

  const wanted = (conn: Conn, frame: ReplayFrame): boolean =>
    !isEvent(frame) ||
    frame.kind !== 'commit' ||
    conn.wanted.size === 0 ||
    conn.wanted.has(frame.commit?.collection ?? '')

  const pump = async (conn: Conn): Promise<void> => {
    const { ws, info } = conn
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()))
    let sinceYield = 0
    while (ws.readyState === ws.OPEN) {
      if (info.stalled) {
        await closed
        return
      }
      if (conn.next >= log.length) {
        await Promise.race([woken, closed])
        continue
      }
      const i = conn.next++
      if (!wanted(conn, log[i] as ReplayFrame)) continue
      const data = encode(i, info.compress)
      if (fault?.kind === 'truncate' && fault.in <= 1) {
        fault = null
        info.ended = 'truncated'
        truncate(ws, data, info.compress)
        return
      }
      const flushed = new Promise<void>((resolve) =>
        ws.send(data, { binary: info.compress }, () => resolve()),
      )
      info.sent++
      sent++
      const sentFrame = log[i]
      if (isEvent(sentFrame)) {
        info.firstTimeUs ??= sentFrame.time_us
        info.lastTimeUs = sentFrame.time_us
      }
      if (fault !== null && --fault.in <= 0) {
        const kind = fault.kind
        fault = null
        if (kind === 'stall') {
          info.stalled = true
          continue
        }
        if (kind === 'error') {
          info.ended = 'error'
          ws.close(1011, 'internal error: replay failed')
        } else {
          info.ended = 'dropped'
          ws.terminate()
        }
        return
      }
      if (ws.bufferedAmount >= HIGH_WATER_BYTES) {
        // the client is not reading: wait until this frame has left user space
        await flushed
        sinceYield = 0
      } else if (++sinceYield >= 64) {
        // let other sockets (and a client in this very process) run
        await yieldLoop()
        sinceYield = 0
      }
    }
  }

  wss.on('connection', (ws, req) => {
    const params = new URL(req.url ?? '/', 'ws://localhost').searchParams
    const cursorParam = params.get('cursor')
    const cursor = cursorParam === null ? null : Number(cursorParam)
    const info: ConnectionInfo = {
      cursor,
      wantedCollections: params.getAll('wantedCollections'),
      compress: params.get('compress') === 'true',
      sent: 0,
      firstTimeUs: null,
      lastTimeUs: null,
      stalled: false,
      ended: null,
    }
    const start =
      cursor !== null ? firstAtOrAfter(cursor) : opts.noCursor === 'live' ? log.length : oldest
    const conn: Conn = {
      ws,
      info,
      wanted: new Set(info.wantedCollections),
      next: start,
    }
    conns.add(conn)
    connections.push(info)
    ws.on('error', () => {})
    ws.on('close', () => {
      info.ended ??= 'client'
      conns.delete(conn)
    })
    for (const w of connectionWaiters.splice(0)) {
      if (connections.length >= w.n) w.resolve()
      else connectionWaiters.push(w)
    }
    void pump(conn)
  })

  const dropAll = (): void => {
    for (const c of conns) {
      c.info.ended ??= 'server-closed'
      c.ws.terminate()
    }
  }

  const close = async (): Promise<void> => {
    dropAll()
    await new Promise<void>((resolve) => wss.close(() => resolve()))
  }

  return {
    url: `ws://127.0.0.1:${port}`,
    connections,
    get sent() {
      return sent
    },
    append(frames) {
      log.push(...frames)
      const w = wake
      woken = new Promise<void>((r) => {
        wake = r
      })
      w?.()
    },
    dropAfter(n) {
      fault = { in: n, kind: 'drop' }
    },
    stallAfter(n) {
      fault = { in: n, kind: 'stall' }
    },
    faultAfter(n, kind) {
      fault = { in: n, kind }
    },
    restart(restartOpts = {}) {
      if (restartOpts.oldestUs !== undefined) oldest = firstAtOrAfter(restartOpts.oldestUs)
      dropAll()
    },
    waitForConnections(n) {
      if (connections.length >= n) return Promise.resolve()
      return new Promise((resolve) => connectionWaiters.push({ n, resolve }))
    },
    close,
    [Symbol.asyncDispose]: close,
  }
}

function asText(frame: JetstreamEvent | string): string {
  return typeof frame === 'string' ? frame : JSON.stringify(frame)
}

/**
 * Writes the first half of the WebSocket frame that would carry `data` straight to the socket,
 * then ends the connection: the client is left with a frame cut short.
 */
function truncate(ws: WebSocket, data: string | Buffer, binary: boolean): void {
  const payload = typeof data === 'string' ? Buffer.from(data) : data
  const frame = Buffer.concat([frameHeader(payload.length, binary), payload])
  const socket = (ws as unknown as { _socket: Socket })._socket
  socket.write(frame.subarray(0, Math.max(2, frame.length >> 1)), () => socket.destroy())
}

/** An unmasked server-to-client header for one final frame (RFC 6455 section 5.2). */
function frameHeader(length: number, binary: boolean): Buffer {
  const opcode = 0x80 | (binary ? 0x2 : 0x1)
  if (length < 126) return Buffer.from([opcode, length])
  const wide = length >= 65_536
  const h = Buffer.alloc(wide ? 10 : 4)
  h[0] = opcode
  h[1] = wide ? 127 : 126
  if (wide) h.writeBigUInt64BE(BigInt(length), 2)
  else h.writeUInt16BE(length, 2)
  return h
}
