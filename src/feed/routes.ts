// GET /accounts/events/: the change feed over HTTP.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { authOf, type AuthHook } from '../http/auth.js';
import { errorResponses } from '../http/schemas.js';
import type { FeedService } from './service.js';

const FeedQuery = Type.Object({
  after: Type.Integer({ minimum: 0, description: 'The last seq the client handled (0: from the start)' }),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
});

// An event is the object the WebSocket sends: its fields depend on its type.
const EventSchema = Type.Object({ type: Type.String(), seq: Type.Integer() }, { additionalProperties: true });

const FeedPage = Type.Object({
  results: Type.Array(EventSchema),
  next: Type.Union([Type.Integer(), Type.Null()]),
});

const GoneSchema = Type.Object({ detail: Type.String(), code: Type.String(), seq: Type.Integer() });

export function feedRoutes(feed: FeedService, authenticate: AuthHook) {
  return async (instance: FastifyInstance) => {
    instance.withTypeProvider<TypeBoxTypeProvider>().get(
      '/accounts/events/',
      {
        onRequest: authenticate,
        schema: {
          tags: ['real time'],
          summary: 'The change feed: every event after a seq, oldest first',
          security: [{ token: [] }],
          querystring: FeedQuery,
          response: { 200: FeedPage, ...errorResponses(400, 401), 410: GoneSchema },
        },
      },
      async (request) => feed.page(authOf(request).user.id, request.query.after, request.query.limit ?? 500),
    );
  };
}
