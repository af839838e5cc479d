// GET /accounts/presence/?users=alice,bob: the presence of the caller's conversation partners.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { errorResponses } from '../http/schemas.js';
import { authOf, type AuthHook } from '../http/auth.js';
import { ValidationFailed } from '../http/errors.js';
import type { PresenceService } from './presence.js';

const MAX_USERS = 100;

const PresenceQuery = Type.Object({
  users: Type.String({ minLength: 1, maxLength: 20_000, description: 'Comma-separated user names' }),
});

const PresenceAnswer = Type.Record(
  Type.String(),
  Type.Object({
    status: Type.Union([Type.Literal('online'), Type.Literal('offline')]),
    last_seen: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  }),
);

export function presenceRoutes(presence: PresenceService, authenticate: AuthHook) {
  return async (instance: FastifyInstance) => {
    instance.withTypeProvider<TypeBoxTypeProvider>().get(
      '/accounts/presence/',
      {
        onRequest: authenticate,
        schema: {
          tags: ['real time'],
          summary: 'Online state of conversation partners (others are left out)',
          security: [{ token: [] }],
          querystring: PresenceQuery,
          response: { 200: PresenceAnswer, ...errorResponses(400, 401) },
        },
      },
      async (request) => {
        const names = [...new Set(request.query.users.split(',').map((name) => name.trim()).filter((name) => name !== ''))];
        if (names.length === 0 || names.length > MAX_USERS) throw new ValidationFailed({ users: [`Give 1 to ${MAX_USERS} user names, separated by commas.`] });
        return presence.lookup(authOf(request).user.id, names);
      },
    );
  };
}
