import type { IncomingMessage } from 'node:http'
import { AuthRequiredError, verifyJwt, XRPCError } from '@atproto/xrpc-server'
import type { AppContext } from '../context.ts'
import { verifySignatureWithKey } from './signature.ts'

/** how far a token's iat or nbf may be ahead of our clock (the issuer's clock may run ahead) */
const CLOCK_SKEW_S = 300

export interface ViewerAuth {
  credentials: { viewer: string | null }
}

/**
 * Service-auth for feed requests: no token is a public request; a token must be valid for this
 * service (audience), this method (lxm), and be signed by the issuer's current atproto key.
 * A key that fails is re-resolved once (`forceRefresh`), which covers key rotation.
 */
export function viewerAuth(ctx: AppContext, lxm: string) {
  return async ({ req }: { req: IncomingMessage }): Promise<ViewerAuth> => {
    const header = req.headers.authorization
    if (header === undefined) return { credentials: { viewer: null } }
    if (!header.startsWith('Bearer ')) {
      ctx.metrics.jwtFailures.labels('BadJwt').inc()
      throw new AuthRequiredError('expected a Bearer token', 'BadJwt')
    }
    const payload = await verifyJwt(
      header.slice('Bearer '.length).trim(),
      ctx.identity.serviceDid,
      lxm,
      async (iss, forceRefresh) => {
        const did = iss.split('#')[0] ?? iss
        try {
          return await ctx.idResolver.atprotoKey(did, forceRefresh)
        } catch (cause) {
          throw new AuthRequiredError('could not resolve the token issuer', 'BadJwtIssuer', {
            cause,
          })
        }
      },
      verifySignatureWithKey,
    ).catch((err: unknown) => {
      // a token too broken to parse is the client's fault (401), never ours (500)
      const refusal =
        err instanceof XRPCError
          ? err
          : new AuthRequiredError('malformed token', 'BadJwt', { cause: err })
      ctx.metrics.jwtFailures.labels(refusal.error ?? 'BadJwt').inc()
      throw refusal
    })
    // verifyJwt checks exp only: a token that says it is not valid yet is refused too
    const { iat, nbf } = payload as { iat?: unknown; nbf?: unknown }
    const validFrom = Math.max(typeof iat === 'number' ? iat : 0, typeof nbf === 'number' ? nbf : 0)
    if (validFrom > Date.now() / 1000 + CLOCK_SKEW_S) {
      ctx.metrics.jwtFailures.labels('BadJwt').inc()
      throw new AuthRequiredError('jwt is not valid yet (iat or nbf in the future)', 'BadJwt')
    }
    return { credentials: { viewer: payload.iss.split('#')[0] ?? payload.iss } }
  }
}
