import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
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

/** What the server replays: an event, or a raw text frame sent as it is (malformed input). */
export type ReplayFrame = JetstreamEvent | string

export interface JetstreamServerOptions {
  events?: ReplayFrame[]
  /**
   * Where a connection without `cursor` starts: `'oldest'` (the default, handy for replays) or
   * `'live'` (real Jetstream: only events appended after it connected).
   */
  noCursor?: 'oldest' | 'live'
  /** for `compress=true`: frames are zstd with this dictionary */
  zstdDictionary?: Uint8Array
}

export interface ConnectionInfo {
  cursor: number | null
  wantedCollections: string[]
  compress: boolean
  /** events sent on this connection */
  sent: number
  /** how the connection ended: by the client, a drop knob, or still open */
  ended: 'client' | 'dropped' | 'server-closed' | null
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
  /** resolves once `n` connections have been made in total */
  waitForConnections(n: number): Promise<void>
  close(): Promise<void>
}

interface Conn {
  ws: WebSocket
  info: ConnectionInfo
  wanted: Set<string>
  next: number
  stalled: boolean
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
  const text: (string | undefined)[] = []
  const zstd: (Buffer | undefined)[] = []
  const conns = new Set<Conn>()
  const connections: ConnectionInfo[] = []
  let sent = 0
  let dropIn: number | null = null
  let stallIn: number | null = null
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
    text[i] ??= typeof frame === 'string' ? frame : JSON.stringify(frame)
    const json = text[i] as string
    if (!compress) return json
    if (!opts.zstdDictionary) throw new Error('compress=true needs a zstdDictionary')
    zstd[i] ??= zstdCompressSync(Buffer.from(json), { dictionary: opts.zstdDictionary })
    return zstd[i] as Buffer
  }

  const firstAtOrAfter = (cursor: number): number => {
    for (let i = 0; i < log.length; i++) {
      const f = log[i] as ReplayFrame
      if (typeof f !== 'string' && f.time_us >= cursor) return i
    }
    return log.length
  }

  const wanted = (conn: Conn, frame: ReplayFrame): boolean =>
    typeof frame === 'string' ||
    frame.kind !== 'commit' ||
    conn.wanted.size === 0 ||
    conn.wanted.has(frame.commit?.collection ?? '')

  const pump = async (conn: Conn): Promise<void> => {
    const { ws, info } = conn
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()))
    let sinceYield = 0
    while (ws.readyState === ws.OPEN) {
      if (conn.stalled) {
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
      const flushed = new Promise<void>((resolve) => ws.send(data, () => resolve()))
      info.sent++
      sent++
      if (dropIn !== null && --dropIn <= 0) {
        dropIn = null
        info.ended = 'dropped'
        ws.terminate()
        return
      }
      if (stallIn !== null && --stallIn <= 0) {
        stallIn = null
        conn.stalled = true
        continue
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
      ended: null,
    }
    const start =
      cursor !== null ? firstAtOrAfter(cursor) : opts.noCursor === 'live' ? log.length : 0
    const conn: Conn = {
      ws,
      info,
      wanted: new Set(info.wantedCollections),
      next: start,
      stalled: false,
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

  const close = async (): Promise<void> => {
    for (const c of conns) {
      c.info.ended ??= 'server-closed'
      c.ws.terminate()
    }
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
      dropIn = n
    },
    stallAfter(n) {
      stallIn = n
    },
    waitForConnections(n) {
      if (connections.length >= n) return Promise.resolve()
      return new Promise((resolve) => connectionWaiters.push({ n, resolve }))
    },
    close,
    [Symbol.asyncDispose]: close,
  }
}
