/**
 * The PLC directory for benchmark issuers: a loopback HTTP server that answers `GET /<did>` with
 * the DID document of one of `count` secp256k1 keys (the key type PDSs sign with), and signs
 * service-auth tokens for them, so feedgen verifies signed-in requests as it does for the
 * AppView's, without the network.
 */
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Secp256k1Keypair } from '@atproto/crypto'
import { createServiceJwt } from '@atproto/xrpc-server'

const LETTERS = 'abcdefghijklmnopqrstuvwxyz'

export interface PlcStub extends AsyncDisposable {
  url: string
  /** one `Bearer` token per issuer for `aud` and `lxm`, valid for an hour */
  tokens(aud: string, lxm: string): Promise<string[]>
}

export async function startPlcStub(count: number): Promise<PlcStub> {
  const issuers = await Promise.all(
    Array.from({ length: count }, async (_, i) => ({
      // 24 characters of base32 ([a-z2-7]), as did:plc identifiers are: i in letters
      did: `did:plc:bench${[...i.toString(26)]
        .map((d) => LETTERS[Number.parseInt(d, 26)])
        .join('')
        .padStart(19, 'z')}`,
      keypair: await Secp256k1Keypair.create(),
    })),
  )
  const docs = new Map(
    issuers.map(({ did, keypair }) => [
      `/${did}`,
      JSON.stringify({
        '@context': ['https://www.w3.org/ns/did/v1', 'https://w3id.org/security/multikey/v1'],
        id: did,
        alsoKnownAs: [`at://${did.slice(8)}.bench.test`],
        verificationMethod: [
          {
            id: `${did}#atproto`,
            type: 'Multikey',
            controller: did,
            publicKeyMultibase: keypair.did().slice('did:key:'.length),
          },
        ],
        service: [
          {
            id: '#atproto_pds',
            type: 'AtprotoPersonalDataServer',
            serviceEndpoint: 'https://pds.bench.test',
          },
        ],
      }),
    ]),
  )
  const server = createServer((req, res) => {
    const doc = docs.get(decodeURIComponent(req.url ?? ''))
    res.writeHead(doc ? 200 : 404, { 'content-type': 'application/json' })
    res.end(doc ?? '{"message":"DID not registered"}')
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    tokens: (aud, lxm) =>
      Promise.all(
        issuers.map(
          async ({ did, keypair }) =>
            `Bearer ${await createServiceJwt({ iss: did, aud, lxm, keypair, exp: Math.floor(Date.now() / 1000) + 3600 })}`,
        ),
      ),
    [Symbol.asyncDispose]: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
