// Token authentication: `Authorization: Token <key>` (DRF) or `Bearer <key>`.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AccountsService, AuthenticatedUser } from '../accounts/service.js';
import { Unauthorized } from './errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    auth: AuthenticatedUser | null;
  }
}

/** The token in an Authorization header, or undefined when there is none of our kind. */
export function tokenFromHeader(header: string | undefined): string | undefined {
  const match = /^(?:Token|Bearer)\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}

export type AuthHook = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

/** A preHandler that sets request.auth or answers 401. */
export function requireAuth(accounts: Pick<AccountsService, 'authenticate'>): AuthHook {
  return async (request, reply) => {
    const token = tokenFromHeader(request.headers.authorization);
    if (!token) {
      reply.header('www-authenticate', 'Token');
      throw new Unauthorized();
    }
    const auth = await accounts.authenticate(token);
    if (!auth) {
      reply.header('www-authenticate', 'Token');
      throw new Unauthorized('invalid_token', 'Invalid or expired token.');
    }
    request.auth = auth;
  };
}

/** request.auth for a route guarded by requireAuth. */
export function authOf(request: FastifyRequest): AuthenticatedUser {
  if (!request.auth) throw new Unauthorized();
  return request.auth;
}
