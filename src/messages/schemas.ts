// Request and response schemas of the messages API (validation, types and OpenAPI at once).
import { Type } from 'typebox';

export const MessageSchema = Type.Object({
  id: Type.Integer(),
  sender: Type.String(),
  /** null in a group message: its readers are the group's members. */
  receiver: Type.Union([Type.String(), Type.Null()]),
  /** The group's id; null in a direct message. */
  group: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
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

// Checked by the service: a group id that is not a uuid is a group nobody is a member of (404).
const GroupId = Type.String({ minLength: 1, maxLength: 64, description: 'A group id (instead of `receiver`)' });

export const SendMessageBody = Type.Object({
  message: Text,
  receiver: Type.Optional(Type.String({ minLength: 1, maxLength: 420, description: '`user2` or `user2@b` (or give `group`)' })),
  group: Type.Optional(GroupId),
  client_id: Type.Optional(ClientId),
});

/** The /accounts/messages/ form also takes what the original's sealed clients send. */
export const PostMessageBody = Type.Object({
  message: Type.Optional(Text),
  content: Type.Optional(Text),
  // Checked by the route: a schema union would let coercion turn the name "123" into an id.
  receiver: Type.Optional(Type.Unknown({ description: 'An address (string), or a local user id (number) (or give `group`)' })),
  group: Type.Optional(GroupId),
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
  group: Type.Optional(GroupId),
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

/** A group as a conversations row shows it. */
export const GroupSummary = Type.Object({ id: Type.String({ format: 'uuid' }), name: Type.String(), members_count: Type.Integer() });

export const ConversationPage = Type.Object({
  results: Type.Array(
    Type.Object({
      /** The partner of a direct conversation; null for a group. */
      with: Type.Union([Type.String(), Type.Null()]),
      group: Type.Union([GroupSummary, Type.Null()]),
      last_message: MessageSchema,
      unread: Type.Integer(),
    }),
  ),
  next: Type.Union([Type.String(), Type.Null()]),
});

// Digits only: coerced as a number, "0x1" or "1e2" would name message 1 or 100.
export const MessageIdParams = Type.Object({ id: Type.String({ pattern: '^[1-9][0-9]{0,14}$', description: 'A message id' }) });

export const EditMessageBody = Type.Object({ message: Text });
