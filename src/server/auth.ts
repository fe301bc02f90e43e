import { AuthRequiredError, verifyJwt, XRPCError } from '@atproto/xrpc-server'
import type { Request } from 'express'
import type { AppContext } from '../context.ts'

export interface ViewerAuth {
  credentials: { viewer: string | null }
}

/**
 * Service-auth for feed requests: no token is a public request; a token must be valid for this
 * service (audience), this method (lxm), and be signed by the issuer's current atproto key.
 * A key that fails is re-resolved once (`forceRefresh`), which covers key rotation.
 */
export function viewerAuth(ctx: AppContext, lxm: string) {
  return async ({ req }: { req: Request }): Promise<ViewerAuth> => {
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
          return await ctx.idResolver.did.resolveAtprotoKey(did, forceRefresh)
        } catch (cause) {
          throw new AuthRequiredError('could not resolve the token issuer', 'BadJwtIssuer', {
            cause,
          })
        }
      },
    ).catch((err: unknown) => {
      // a token too broken to parse is the client's fault (401), never ours (500)
      const refusal =
        err instanceof XRPCError
          ? err
          : new AuthRequiredError('malformed token', 'BadJwt', { cause: err })
      ctx.metrics.jwtFailures.labels(refusal.error ?? 'BadJwt').inc()
      throw refusal
    })
    return { credentials: { viewer: payload.iss.split('#')[0] ?? payload.iss } }
  }
}
