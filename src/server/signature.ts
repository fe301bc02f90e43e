import { createPublicKey, type KeyObject, verify } from 'node:crypto'
import { parseDidKey } from '@atproto/crypto'
import { LRUCache } from 'lru-cache'

/** SPKI (DER) up to the uncompressed EC point, by JWT alg: all that differs is the curve. */
const SPKI_HEADERS: Record<string, Buffer> = {
  ES256K: Buffer.from('3056301006072a8648ce3d020106052b8104000a034200', 'hex'),
  ES256: Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex'),
}

/** Issuers' public keys, parsed once each. */
const keys = new LRUCache<string, { key: KeyObject; alg: string }>({ max: 10_000 })

/**
 * xrpc-server's `verifyJwt` signature check on OpenSSL (node:crypto) instead of @atproto/crypto's
 * pure-JS curves: 1,270 -> 270 µs per token signed with secp256k1 (what PDSs use), 2,040 -> 70 µs
 * with P-256, and every signed-in user's feed request carries one. Same answers for the same
 * input (test/signature.test.ts): the key's curve must match the token's `alg`, and high-S
 * signatures pass, as xrpc-server allows them. One difference, on purpose: a DER-encoded
 * signature, which noble also takes, is refused; JWTs carry r || s (RFC 7518). The check runs on
 * libuv's thread pool, so the event loop serves other requests meanwhile.
 */
export async function verifySignatureWithKey(
  didKey: string,
  msg: Uint8Array,
  sig: Uint8Array,
  alg: string,
): Promise<boolean> {
  let parsed = keys.get(didKey)
  if (parsed === undefined) {
    const { jwtAlg, keyBytes } = parseDidKey(didKey)
    const header = SPKI_HEADERS[jwtAlg]
    if (header === undefined) throw new Error(`unsupported key type ${jwtAlg}`)
    const der = Buffer.concat([header, keyBytes])
    parsed = { key: createPublicKey({ key: der, format: 'der', type: 'spki' }), alg: jwtAlg }
    keys.set(didKey, parsed)
  }
  if (parsed.alg !== alg) throw new Error(`expected key alg ${alg}, got ${parsed.alg}`)
  const { key } = parsed
  return new Promise((resolve, reject) =>
    verify('sha256', msg, { key, dsaEncoding: 'ieee-p1363' }, sig, (err, ok) =>
      err ? reject(err) : resolve(ok),
    ),
  )
}
