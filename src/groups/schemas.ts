// Request and response schemas of the groups API (validation, types and OpenAPI at once).
import { Type } from 'typebox';

const Timestamp = Type.String({ format: 'date-time' });
const Role = Type.Union([Type.Literal('owner'), Type.Literal('admin'), Type.Literal('member')]);

export const GroupMemberSchema = Type.Object({
  user: Type.String({ description: '`bob`, or `bob@b` for a user of peer b' }),
  role: Role,
  joined_at: Timestamp,
  /** The last message the member has read; null before they read any. */
  read_up_to: Type.Union([Type.Integer(), Type.Null()]),
});

export const GroupSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  name: Type.String(),
  home: Type.String({ description: 'The server name of the backend that holds the group' }),
  created_at: Timestamp,
  members: Type.Array(GroupMemberSchema),
});

export const GroupListSchema = Type.Object({
  results: Type.Array(
    Type.Object({
      id: Type.String({ format: 'uuid' }),
      name: Type.String(),
      home: Type.String(),
      created_at: Timestamp,
      members_count: Type.Integer(),
    }),
  ),
});

// Generous bounds on the raw input; the exact rules (1 to 100 characters once trimmed, at most
// GROUP_MAX_MEMBERS members, each one someone) are the service's, with field messages.
const Name = Type.String({ maxLength: 1000 });
const Address = Type.String({ minLength: 1, maxLength: 420, description: '`bob` or `bob@b`' });

export const CreateGroupBody = Type.Object({
  name: Name,
  members: Type.Array(Address, { maxItems: 100_000, description: 'Who joins besides the creator (the owner)' }),
});

export const RenameGroupBody = Type.Object({ name: Name });

export const AddMemberBody = Type.Object({ user: Address });

export const ChangeRoleBody = Type.Object({ role: Type.Union([Type.Literal('admin'), Type.Literal('member')]) });

// Any text: an id that is not a uuid names no group, which is a 404 like any other.
export const GroupParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

export const MemberParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }), user: Address });

/** A change asked for a group homed on a backend that could not answer in time: it is applied when the request arrives there. */
export const QueuedSchema = Type.Object({ status: Type.Literal('queued') });
