import { randomBytes } from 'node:crypto'
import { type Keypair, P256Keypair, Secp256k1Keypair } from '@atproto/crypto'
import { cryptoVerifySignatureWithKey } from '@atproto/xrpc-server'
import { describe, expect, it } from 'vitest'
import { verifySignatureWithKey } from '../src/server/signature.ts'

// the curves' orders, to make the high-S twin (n - s) of a signature
const ORDER: Record<string, bigint> = {
  ES256K: 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n,
  ES256: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
}

/** Both checks' answer: true, false, or 'throws'. */
async function answers(key: string, msg: Uint8Array, sig: Uint8Array, alg: string) {
  const settle = (p: Promise<boolean>) => p.catch(() => 'throws' as const)
  return {
    ours: await settle(verifySignatureWithKey(key, msg, sig, alg)),
    reference: await settle(cryptoVerifySignatureWithKey(key, msg, sig, alg)),
  }
}

function highS(sig: Uint8Array, alg: string): Uint8Array {
  const s = BigInt(`0x${Buffer.from(sig.slice(32)).toString('hex')}`)
  const twin = ((ORDER[alg] as bigint) - s).toString(16).padStart(64, '0')
  return new Uint8Array([...sig.slice(0, 32), ...Buffer.from(twin, 'hex')])
}

describe('verifySignatureWithKey on node:crypto', () => {
  for (const [alg, create] of [
    ['ES256K', () => Secp256k1Keypair.create()],
    ['ES256', () => P256Keypair.create()],
  ] as [string, () => Promise<Keypair>][]) {
    it(`answers as @atproto/crypto does for ${alg}: good, tampered, high-S, other key, other alg`, async () => {
      const other = alg === 'ES256K' ? 'ES256' : 'ES256K'
      for (let i = 0; i < 25; i++) {
        const key = await create()
        const stranger = await create()
        const msg = randomBytes(1 + i * 7)
        const sig = await key.sign(msg)
        const tampered = Uint8Array.from(sig)
        tampered[i % 64] = (tampered[i % 64] as number) ^ 1
        const cases = [
          [key.did(), msg, sig, alg, true],
          [key.did(), randomBytes(msg.length), sig, alg, false],
          [key.did(), msg, tampered, alg, false],
          [key.did(), msg, highS(sig, alg), alg, true],
          [stranger.did(), msg, sig, alg, false],
          [key.did(), msg, sig, other, 'throws'],
        ] as const
        for (const [did, data, signature, jwtAlg, expected] of cases) {
          expect(await answers(did, data, signature, jwtAlg)).toEqual({
            ours: expected,
            reference: expected,
          })
        }
      }
    })
  }
})
