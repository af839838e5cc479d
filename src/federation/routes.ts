// POST /accounts/receive-message/ and /federation/transactions/, server to server. The routes keep
// the raw body: the signature covers its exact bytes, and the verification hook parses it only
// afterwards.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { errorResponses } from '../http/schemas.js';
import { type InboundFederation, type InboundOptions, verifyPeerRequest } from './inbound.js';
import type { InboundTransactions } from './transactions/inbound.js';
import { TRANSACTIONS_PATH, TransactionAnswer, TransactionBody } from './transactions/protocol.js';

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

export interface TransactionRouteOptions {
  /** Twice FEDERATION_BATCH_BYTES: a full transaction, sealed and encoded, whatever BODY_LIMIT says. */
  bodyLimit: number;
}

export function federationRoutes(inbound: InboundFederation, transactions: InboundTransactions, options: InboundOptions & TransactionRouteOptions) {
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
    app.post(
      TRANSACTIONS_PATH,
      {
        bodyLimit: options.bodyLimit,
        preValidation: verifyPeerRequest(options, 'never'),
        schema: {
          tags: ['federation'],
          summary: 'A peer delivers a transaction of items (see federation.md, "Transactions")',
          body: TransactionBody,
          response: { 200: TransactionAnswer, ...errorResponses(400, 401, 403, 413, 503) },
        },
      },
      async (request) => transactions.apply(request.peer!, request.body),
    );
  };
}
