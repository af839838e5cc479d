// Table types for Kysely. Times are epoch milliseconds; flags are 0/1 integers so that
// SQLite and PostgreSQL read and write them the same way.
import type { Generated } from 'kysely';

export interface UsersTable {
  id: Generated<number>;
  username: string;
  /** username folded for case-insensitive uniqueness and lookup */
  username_key: string;
  /** the username's confusable skeleton (Unicode TS #39); null for an old name that already looked like an older one */
  username_skeleton: string | null;
  email: string;
  email_key: string;
  password_hash: string;
  date_joined: number;
}

export interface ProfilesTable {
  user_id: number;
  phone_number: string | null;
  phone_verified: number;
}

export interface TokensTable {
  id: Generated<number>;
  user_id: number;
  token_hash: string;
  created_at: number;
  expires_at: number;
  last_used_at: number;
}

/** One verification per user; `request_id` is null while its start is in flight. */
export interface PhoneVerificationsTable {
  user_id: number;
  attempt: string;
  phone_number: string;
  provider: string;
  request_id: string | null;
  started_at: number;
  expires_at: number;
  wrong_codes: number;
}

export interface MessagesTable {
  id: Generated<number>;
  /** The id the message travels under between backends (ours, or the sending peer's). */
  uuid: string;
  conversation_id: number;
  /** The sender's member key in the conversation (see conversations/members.ts). */
  sender_key: string;
  sender_user_id: number | null;
  /** The sender's address as this backend shows it: `alice` (local) or `alice@b` (remote). */
  sender: string;
  /**
   * The address a direct message was sent to, as the sender wrote it (`bob`, `Bob@b`): its
   * member row keeps the first spelling, a message keeps its own.
   */
  sent_to: string | null;
  /** Sealed at rest with the message id as associated data; '' once erased. */
  body: string;
  created_at: number;
  client_id: string | null;
  edited_at: number | null;
  deleted: Generated<number>;
  /** A group message's place in its home's order (the home's id for it); null for a direct message, and on a member's backend until the home ordered it. */
  position: number | null;
}

export interface ConversationsTable {
  id: Generated<number>;
  /** The id the conversation will travel under between backends. */
  uuid: string;
  kind: 'direct' | 'group';
  /** The two members' keys, sorted (direct conversations only). */
  direct_key: string | null;
  /** The backend that orders the conversation's membership; null for this one. */
  home: string | null;
  /** A group's name; null for a direct conversation. */
  title: string | null;
  created_at: number;
  /** A group's membership version: moves on with every change of its members, roles or name; 0 for a direct conversation. */
  version: Generated<number>;
}

export interface ConversationMembersTable {
  conversation_id: number;
  /** made by memberKey(), never parsed */
  member_key: string;
  /** A local member's user; null for a peer's user. */
  user_id: number | null;
  /** A remote member's peer; null for a local user. */
  server: string | null;
  /** The member's name on their own backend. */
  name: string;
  /** The member as this backend shows them: `bob` or `bob@b`. */
  address: string;
  role: 'owner' | 'admin' | 'member';
  joined_at: number;
  /** Every message up to this id that the member received is read. */
  read_up_to: Generated<number>;
  unread: Generated<number>;
  /** The newest message, for a local member: their row in the conversations list (null before one). */
  last_message_id: number | null;
  /** 1 once the member sent a message: two senders (or a read) make the conversation established. */
  has_sent: Generated<number>;
  /** The member's feed (and catch-up) holds the conversation's messages after this id: those before a late joiner came are history, not news. */
  feed_from: Generated<number>;
}

/** One forward move of a member's read position, with its time (a message's read_at). */
export interface ReadMarkersTable {
  conversation_id: number;
  member_key: string;
  up_to: number;
  read_at: number;
}

/** A message's state of delivery to one peer; none for a message that went to no peer. */
export interface MessageDeliveriesTable {
  message_id: number;
  server: string;
  status: 'delivered' | 'queued' | 'failed';
  failure_code: string | null;
}

export interface OutboxTable {
  id: Generated<number>;
  /** The message the entry carries (or changes, or reads up to); null for a group's state or a member's request. */
  message_id: number | null;
  conversation_id: number;
  /** The peer the entry goes to. */
  server: string;
  /** Delivery order is kept per receiver: the receiver's member key. */
  receiver_key: string;
  attempts: number;
  next_attempt_at: number;
  /** A worker's lease on the entry: free when in the past. */
  claimed_until: number;
  claimed_by: string | null;
  last_error: string | null;
  created_at: number;
  /** null for the message itself, else a change of it (or its receiver's read marker) travelling to the peer, or a group item. */
  op: 'edit' | 'delete' | 'read' | 'group_state' | 'group_message' | 'group_post' | 'group_request' | null;
  /** The change's or the group item's own id (a message goes under its uuid). */
  op_id: string | null;
  /** JSON of a group item's own fields (a group's state, a request, the actor of a post); null for the rest. */
  payload: string | null;
}

export interface FederationReceiptsTable {
  peer: string;
  /** The request's id, or a hash of its token when it carries none. */
  request_key: string;
  message_id: number;
  created_at: number;
}

/** The first answer to a peer's item that changes no message (a member's request to a group's home), kept for its repeats. */
export interface FederationItemAnswersTable {
  peer: string;
  item_id: string;
  /** 200, or the 4xx it was refused with. */
  status: number;
  code: string | null;
  /** The group's version after an applied request. */
  version: number | null;
  created_at: number;
}

/** An edit, delete, read marker or status change in one user's feed; `seq` comes from the messages' id counter. */
export interface EventsTable {
  seq: Generated<number>;
  user_id: number;
  type: string;
  message_id: number | null;
  /** JSON of the event's fields other than the message (read markers, status changes). */
  data: string | null;
  created_at: number;
  /** The group an event is about (read only by its members); null for the rest. */
  conversation_id: number | null;
}

export interface EventLogStateTable {
  id: number;
  pruned_through: number;
}

export interface SchemaMigrationsTable {
  name: string;
  applied_at: number;
}

export interface Tables {
  users: UsersTable;
  profiles: ProfilesTable;
  tokens: TokensTable;
  messages: MessagesTable;
  conversations: ConversationsTable;
  conversation_members: ConversationMembersTable;
  read_markers: ReadMarkersTable;
  message_deliveries: MessageDeliveriesTable;
  outbox: OutboxTable;
  federation_receipts: FederationReceiptsTable;
  federation_item_answers: FederationItemAnswersTable;
  phone_verifications: PhoneVerificationsTable;
  events: EventsTable;
  event_log_state: EventLogStateTable;
  schema_migrations: SchemaMigrationsTable;
}
