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

// The longest text a client may send (10,000 characters) is at most 40,000 bytes of UTF-8: its
// Fernet token is about 53,500 characters of base64url, and the wire form (encoded once more)
// about 71,300. A peer may seal the whole body once more (a third more, encoded twice: about
// 127,000). So the v1 path takes a full-size message whatever BODY_LIMIT (for clients) says.
const MAX_WIRE_MESSAGE = 96_000;
const MIN_V1_BODY_LIMIT = 192 * 1024;

const ReceiveBody = Type.Object({
  // Required but for a delete; the service says so in the field's name.
  message: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_WIRE_MESSAGE })),
  // The original's name for it in a sealed body (its EncryptionMiddleware's `content`).
  content: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_WIRE_MESSAGE })),
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
  /** BODY_LIMIT, which a v1 request may exceed up to what a full-size message needs. */
  clientBodyLimit: number;
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
        bodyLimit: Math.max(options.clientBodyLimit, MIN_V1_BODY_LIMIT),
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
