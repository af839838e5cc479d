// Token authentication: `Authorization: Token <key>` (DRF) or `Bearer <key>`. The session a
// token stands for is accounts/' type (it declares `request.auth`); this hook only carries it.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Unauthorized } from './errors.js';

/** Who a request's token belongs to, as set on `request.auth`. */
export type RequestAuth = NonNullable<FastifyRequest['auth']>;

/** Finds the session a token stands for (accounts/, or a cache in front of it). */
export interface TokenAuthenticator {
  authenticate(token: string): Promise<RequestAuth | undefined>;
}

/** The token in an Authorization header, or undefined when there is none of our kind. */
export function tokenFromHeader(header: string | undefined): string | undefined {
  const match = /^(?:Token|Bearer)\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}

export type AuthHook = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

/**
 * A route's onRequest hook that sets request.auth or answers 401: before the body is parsed or
 * validated, so that a request without valid credentials is a 401 whatever its body, as in DRF.
 */
export function requireAuth(authenticator: TokenAuthenticator): AuthHook {
  return async (request, reply) => {
    const token = tokenFromHeader(request.headers.authorization);
    if (!token) {
      reply.header('www-authenticate', 'Token');
      throw new Unauthorized();
    }
    const auth = await authenticator.authenticate(token);
    if (!auth) {
      reply.header('www-authenticate', 'Token');
      throw new Unauthorized('invalid_token', 'Invalid or expired token.');
    }
    request.auth = auth;
  };
}

/** request.auth for a route guarded by requireAuth. */
export function authOf(request: FastifyRequest): RequestAuth {
  if (!request.auth) throw new Unauthorized();
  return request.auth;
}
