import { InvalidRequestError } from '@atproto/xrpc-server'

/** A keyset position: the sort time in ms and the AT-URI that breaks ties at that time. */
export interface FeedPosition {
  time: number
  uri: string
}

const SEP = '::'

/** `<time>::<uri>`: opaque to clients, stable while new posts arrive. */
export function encodeCursor(pos: FeedPosition): string {
  return `${pos.time}${SEP}${pos.uri}`
}

/**
 * Parses a client's cursor. Anything malformed is the client's error (400 `InvalidRequest`),
 * never a 500.
 */
export function decodeCursor(cursor: string): FeedPosition {
  const at = cursor.indexOf(SEP)
  const time = at > 0 ? cursor.slice(0, at) : ''
  const uri = cursor.slice(at + SEP.length)
  if (!/^\d{1,16}$/.test(time) || !uri.startsWith('at://') || uri.length > 512) {
    throw new InvalidRequestError('malformed cursor')
  }
  return { time: Number(time), uri }
}
