// HTTP routes of the messages feature: send (to a receiver or a group), read a conversation or a
// group or catch up, conversations, read markers. POST /accounts/messages/ sits in a plugin of its own with the sealed-form hook.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { authOf, type AuthHook } from '../http/auth.js';
import { fieldsFromValidation, type ValidationIssue } from '../http/error-handler.js';
import { ValidationFailed, type FieldErrors } from '../http/errors.js';
import { installSealedForm, type SealOptions } from '../http/sealed-body.js';
import { errorResponses } from '../http/schemas.js';
import type { MessageEdits } from './edits.js';
import type { MessageQueries } from './queries.js';
import type { ReadMarkers } from './read-markers.js';
import {
  ConversationPage,
  ConversationsQuery,
  EditMessageBody,
  ListQuery,
  MessageIdParams,
  MessagePage,
  MessageSchema,
  PostMessageBody,
  SendAnswer,
  SendMessageBody,
} from './schemas.js';
import { textProblem, type MessagesService } from './service.js';

const SENT = 'Message sent successfully';

/** A Message shows the target it does not have as null (`"group": null`): sent back so, it means "not given". */
async function nullTargetsAbsent(request: FastifyRequest): Promise<void> {
  const body = request.body;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return;
  const fields = body as Record<string, unknown>;
  for (const key of ['receiver', 'group']) if (fields[key] === null) delete fields[key];
}

export function messagesRoutes(messages: MessagesService, queries: MessageQueries, readMarkers: ReadMarkers, authenticate: AuthHook, sealed: SealOptions) {
  return async (instance: FastifyInstance) => {
    const app = instance.withTypeProvider<TypeBoxTypeProvider>();
    const secured = { tags: ['messages'], security: [{ token: [] }] };
    const errors = errorResponses(400, 401, 403, 404, 409);
    const sendErrors = errorResponses(400, 401, 403, 404, 409, 429);

    app.post(
      '/accounts/send-message/',
      {
        preValidation: nullTargetsAbsent,
        onRequest: authenticate,
        // Reported with the text's and the target's problems, all at once.
        attachValidation: true,
        schema: { ...secured, summary: 'Send a message', body: SendMessageBody, response: { 201: SendAnswer, ...sendErrors } },
      },
      async (request, reply) => {
        const { user } = authOf(request);
        // A body that is no object at all (JSON `null`) has only the validation's answer to give.
        const { message, receiver, group, client_id: clientId } = request.body ?? {};
        refuseBadSend(request, message, receiver, group);
        const sent = await messages.send(user, { message, ...targetOf(receiver, group), ...(clientId !== undefined ? { clientId } : {}) });
        return reply.status(201).send({ message: SENT, ...sent });
      },
    );

    await app.register(async (sealedScope) => {
      installSealedForm(sealedScope, sealed);
      sealedScope.withTypeProvider<TypeBoxTypeProvider>().post(
        '/accounts/messages/',
        {
          // The sealed form is opened before any route code, authentication included, as the
          // original's middleware did: a body that does not open is 400 whatever the token.
          preValidation: [authenticate, nullTargetsAbsent],
          attachValidation: true,
          schema: {
            ...secured,
            summary: 'Send a message (JSON, or sealed under the shared key)',
            body: PostMessageBody,
            response: { 201: SendAnswer, ...sendErrors },
          },
        },
        async (request, reply) => {
          const { user } = authOf(request);
          const { message, content, receiver, group, client_id: clientId } = request.body ?? {};
          const text = message ?? content;
          refuseBadSend(request, text, receiver, group);
          const target = targetOf(receiver as string | number | undefined, group);
          const sent = await messages.send(user, { message: text!, ...target, ...(clientId !== undefined ? { clientId } : {}) });
          return reply.status(201).send({ message: SENT, ...sent });
        },
      );
    });

    app.get(
      '/accounts/messages/',
      { onRequest: authenticate, schema: { ...secured, summary: 'One conversation (?with= or ?group=), or catch-up (?after=)', querystring: ListQuery, response: { 200: MessagePage, ...errors } } },
      async (request) => {
        const { user } = authOf(request);
        const { with: partner, group, before, after, limit } = request.query;
        if (partner !== undefined && group === undefined && after === undefined) return queries.history(user, partner, before, limit ?? 50);
        if (group !== undefined && partner === undefined && after === undefined) return queries.groupHistory(user, group, before, limit ?? 50);
        if (after !== undefined && partner === undefined && group === undefined && before === undefined) return queries.catchUp(user.id, after, limit ?? 200);
        throw new ValidationFailed({ non_field_errors: ['Give either `with` or `group` (and optionally `before`), or `after`.'] });
      },
    );

    app.get(
      '/accounts/conversations/',
      { onRequest: authenticate, schema: { ...secured, summary: 'Conversations, most recent first', querystring: ConversationsQuery, response: { 200: ConversationPage, ...errors } } },
      async (request) => queries.conversations(authOf(request).user.id, request.query.before, request.query.limit ?? 50),
    );

    app.post(
      '/accounts/messages/:id/read/',
      { onRequest: authenticate, schema: { ...secured, summary: 'Mark a message and the earlier ones read', params: MessageIdParams, response: { 200: MessageSchema, ...errors } } },
      async (request) => readMarkers.markRead(authOf(request).user, Number(request.params.id)),
    );
  };
}

/** PATCH and DELETE /accounts/messages/{id}/: the sender edits or deletes a message. */
export function messageChangeRoutes(changes: MessageEdits, authenticate: AuthHook) {
  return async (instance: FastifyInstance) => {
    const app = instance.withTypeProvider<TypeBoxTypeProvider>();
    const secured = { tags: ['messages'], security: [{ token: [] }], params: MessageIdParams };
    const errors = errorResponses(400, 401, 403, 404, 409);

    app.patch(
      '/accounts/messages/:id/',
      { onRequest: authenticate, schema: { ...secured, summary: 'Edit a message (sender only)', body: EditMessageBody, response: { 200: MessageSchema, ...errors } } },
      async (request) => changes.edit(authOf(request).user, Number(request.params.id), request.body.message),
    );

    app.delete(
      '/accounts/messages/:id/',
      { onRequest: authenticate, schema: { ...secured, summary: 'Delete a message (sender only); it stays as a tombstone', response: { 204: Type.Null(), ...errors } } },
      async (request, reply) => {
        await changes.delete(authOf(request).user, Number(request.params.id));
        return reply.status(204).send(null);
      },
    );
  };
}

/**
 * Refuses a send with every problem it has at once, as DRF lists a serializer's: the schema's
 * (attached to the request, not thrown), the text's, and the target's: exactly one of a receiver
 * (an address, or as the original's sealed clients send, a local user id) and a group.
 */
function refuseBadSend(request: FastifyRequest, text: unknown, receiver: unknown, group: unknown): void {
  const invalid = request.validationError;
  const fields: FieldErrors = invalid ? fieldsFromValidation(invalid.validation as ValidationIssue[]) : {};
  const add = (field: string, problem: string) => {
    if (!fields[field]?.includes(problem)) (fields[field] ??= []).push(problem);
  };
  const problem = typeof text === 'string' ? textProblem(text) : undefined;
  if (text === undefined) add('message', 'This field is required.');
  else if (problem && !fields.message) add('message', problem);
  if (receiver === undefined && group === undefined) add('receiver', 'This field is required.');
  else if (receiver !== undefined && group !== undefined) add('non_field_errors', 'Give exactly one of `receiver` and `group`.');
  else if (receiver !== undefined && !isReceiver(receiver) && !fields.receiver) add('receiver', 'Enter a user name (user or user@backend) or a user id.');
  if (Object.keys(fields).length > 0) throw new ValidationFailed(fields);
}

function isReceiver(value: unknown): value is string | number {
  return (typeof value === 'string' && value.length >= 1 && value.length <= 420) || (typeof value === 'number' && Number.isSafeInteger(value) && value > 0);
}

/** The send's one target, which refuseBadSend has checked. */
function targetOf<R>(receiver: R | undefined, group: string | undefined): { receiver: R; group?: undefined } | { group: string; receiver?: undefined } {
  return group !== undefined ? { group } : { receiver: receiver! };
}
