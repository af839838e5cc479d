// POST /accounts/receive-message/, server to server. The route keeps the raw body: the
// signature covers its exact bytes, and the verification hook parses it only afterwards.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { errorResponses } from '../http/schemas.js';
import { type InboundFederation, type InboundOptions, verifyPeerRequest } from './inbound.js';

const ReceiveBody = Type.Object({
  // Required but for a delete; the service says so in the field's name.
  message: Type.Optional(Type.String({ minLength: 1, maxLength: 60_000 })),
  sender: Type.String({ minLength: 1, maxLength: 150 }),
  receiver: Type.String({ minLength: 1, maxLength: 420 }),
  id: Type.Optional(Type.String({ format: 'uuid' })),
  timestamp: Type.Optional(Type.String({ maxLength: 64 })),
  op: Type.Optional(Type.Union([Type.Literal('edit'), Type.Literal('delete')])),
  ref: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
});

export function federationRoutes(inbound: InboundFederation, options: InboundOptions) {
  return async (instance: FastifyInstance) => {
    instance.removeAllContentTypeParsers();
    instance.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    instance.decorateRequest('peer', null);
    const app = instance.withTypeProvider<TypeBoxTypeProvider>();
    app.post(
      '/accounts/receive-message/',
      {
        preValidation: verifyPeerRequest(options),
        schema: {
          tags: ['federation'],
          summary: 'A peer delivers a message (see federation.md)',
          body: ReceiveBody,
          response: { 200: Type.Object({ message: Type.String() }), ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (request) => ({ message: await inbound.receive(request.peer!, request.body) }),
    );
  };
}
