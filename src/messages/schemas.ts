// Request and response schemas of the messages API (validation, types and OpenAPI at once).
import { Type } from 'typebox';

export const MessageSchema = Type.Object({
  id: Type.Integer(),
  sender: Type.String(),
  receiver: Type.String(),
  message: Type.String(),
  timestamp: Type.String({ format: 'date-time' }),
  status: Type.Union([Type.Literal('delivered'), Type.Literal('queued'), Type.Literal('failed')]),
  read_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  edited_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  deleted: Type.Boolean(),
});

const ClientId = Type.String({ minLength: 1, maxLength: 100, description: 'Idempotency key chosen by the client' });
// Generous bounds on the raw text; the exact rule (1 to 10,000 characters once trimmed) is the service's.
const Text = Type.String({ maxLength: 40_000 });

export const SendMessageBody = Type.Object({
  message: Text,
  receiver: Type.String({ minLength: 1, maxLength: 420, description: '`user2` or `user2@b`' }),
  client_id: Type.Optional(ClientId),
});

/** The /accounts/messages/ form also takes what the original's sealed clients send. */
export const PostMessageBody = Type.Object({
  message: Type.Optional(Text),
  content: Type.Optional(Text),
  // Checked by the route: a schema union would let coercion turn the name "123" into an id.
  receiver: Type.Unknown({ description: 'An address (string), or a local user id (number)' }),
  client_id: Type.Optional(ClientId),
});

export const SendAnswer = Type.Object({
  message: Type.String(),
  id: Type.Integer(),
  status: MessageSchema.properties.status,
  timestamp: Type.String({ format: 'date-time' }),
});

export const ListQuery = Type.Object({
  with: Type.Optional(Type.String({ minLength: 1, maxLength: 420 })),
  before: Type.Optional(Type.String({ maxLength: 64 })),
  after: Type.Optional(Type.Integer({ minimum: 0 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })),
});

export const MessagePage = Type.Object({
  results: Type.Array(MessageSchema),
  next: Type.Union([Type.String(), Type.Null()]),
});

export const ConversationsQuery = Type.Object({
  before: Type.Optional(Type.String({ maxLength: 64 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })),
});

export const ConversationPage = Type.Object({
  results: Type.Array(Type.Object({ with: Type.String(), last_message: MessageSchema, unread: Type.Integer() })),
  next: Type.Union([Type.String(), Type.Null()]),
});

export const MessageIdParams = Type.Object({ id: Type.Integer({ minimum: 1 }) });

export const EditMessageBody = Type.Object({ message: Text });
