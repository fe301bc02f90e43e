import type { AddressInfo } from 'node:net'
import { encode } from '@atproto/lex-cbor'
import { type Cid, cidForCbor, type LexValue } from '@atproto/lex-data'
import { BlockMap, blocksToCarFile } from '@atproto/repo'
import { MessageFrame } from '@atproto/xrpc-server'
import { type WebSocket, WebSocketServer } from 'ws'

export interface ScriptedRelay {
  /** `ws://127.0.0.1:<port>`: the firehose source's url */
  url: string
  /** the path and query of each connection, in order */
  dials: string[]
  sockets: WebSocket[]
  close(): Promise<void>
}

/**
 * A relay on loopback that plays one scripted list of frames per connection, then hangs up
 * (unless `hangUp` is false).
 */
export async function startScriptedRelay(
  script: Uint8Array[][],
  { hangUp = true } = {},
): Promise<ScriptedRelay> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await new Promise((resolve) => wss.once('listening', resolve))
  const dials: string[] = []
  const sockets: WebSocket[] = []
  wss.on('connection', (ws, req) => {
    dials.push(req.url ?? '')
    sockets.push(ws)
    for (const bytes of script[dials.length - 1] ?? []) ws.send(bytes)
    if (hangUp) ws.close(1011, 'scripted end')
  })
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`,
    dials,
    sockets,
    close: () => {
      for (const ws of sockets) ws.terminate()
      return new Promise((resolve) => wss.close(() => resolve()))
    },
  }
}

/** A firehose message frame (`#commit`, `#account`, ...) with `body` as it is, right or wrong. */
export const frame = (type: string, body: Record<string, unknown>): Uint8Array =>
  new MessageFrame(body as LexValue, { type }).toBytes()

/** `value` as a DAG-CBOR block with its CID. */
export async function block(value: unknown): Promise<{ cid: Cid; bytes: Uint8Array }> {
  const bytes = encode(value as LexValue)
  return { cid: await cidForCbor(bytes), bytes }
}

/** A CAR file of `blocks`, rooted at the first. */
export const car = (blocks: { cid: Cid; bytes: Uint8Array }[]): Promise<Uint8Array> =>
  blocksToCarFile(blocks[0]?.cid ?? null, new BlockMap(blocks.map((b) => [b.cid, b.bytes])))
