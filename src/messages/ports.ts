// What writing a message needs from the features that follow it, declared here so that they
// depend on messages and not the other way round: the feed's log (an entry per local member,
// numbered in the message's transaction), federation's outbox and its request receipts. Each
// takes the caller's transaction, which holds the change lock.
import type { Transaction } from 'kysely';
import type { Tables } from '../db/schema.js';
import type { ConversationId } from '../conversations/members.js';
import type { GroupRole } from '../conversations/repository.js';

export type FeedEntryType = 'message' | 'message_updated' | 'read' | 'status' | 'group' | 'group_left';

/**
 * An entry of one user's feed: a new message (`message`, its row is the entry), an entry about
 * a message (its state is read with the entry), or data.
 */
export interface FeedEntry {
  userId: number;
  type: FeedEntryType;
  messageId: number | null;
  /** Fields of the entry other than `type`, `seq` and `message` (read markers, statuses). */
  data?: Record<string, unknown>;
  /** The group the entry is about: only its members read it (one removed no longer does). */
  conversationId?: ConversationId;
}

/** Where an appended entry sits: its seq, and the seq of the user's entry before it (0: none). */
export interface Recorded {
  userId: number;
  seq: number;
  prev: number;
}

export interface FeedLog {
  /**
   * Appends the entries (a `message` entry names a message inserted in this transaction), in
   * their order; before the members' rows move to the new messages, whose last message ids are
   * the users' latest seqs so far.
   */
  appendToFeeds(entries: FeedEntry[], now: number, trx: Transaction<Tables>): Promise<Recorded[]>;
}

/** A message (or a change of it) to carry to a peer. */
export interface MessageOutboxRequest {
  messageId: number;
  conversationId: ConversationId;
  server: string;
  /** The receiver's member key: entries go out in order per receiver. */
  receiverKey: string;
  /** A change of the message, or a read marker up to it, under its own request id; none for the message itself. */
  op?: OutboxOp;
  group?: undefined;
}

/** What an outbox entry carries besides the message itself: an edit, a delete, or a read marker up to it. */
export interface OutboxOp {
  kind: 'edit' | 'delete' | 'read';
  id: string;
}

/** A user as group items name them: `name@server`, whichever backend they are on. */
export type QualifiedUser = string;
/** What happened to a group message: posted, edited, deleted, or read up to. */
export type GroupMessageKind = 'message' | 'edit' | 'delete' | 'read';

/** The home's whole group after a change (groups.md); no members: the group is gone. */
export interface GroupStateFields {
  group: string;
  name: string;
  version: number;
  created_at: string;
  members: { user: QualifiedUser; role: GroupRole; joined_at: string }[];
}

/** From the home: a message of the group in its order, or a change or read of one by `sender` (qualified). */
export interface GroupMessageFields {
  group: string;
  kind: GroupMessageKind;
  message: string;
  sender: QualifiedUser;
  /** The home's order of a new message: its id there. */
  position?: number;
  timestamp: string;
}

/** To the home: a member of this backend (`sender`, a plain name) posts, edits, deletes or reads. */
export interface GroupPostFields {
  group: string;
  kind: GroupMessageKind;
  sender: string;
  message: string;
  timestamp: string;
}

/** To the home: a member of this backend asks for a change of members, roles or name (leaving: removing themself). */
export interface GroupRequestFields {
  group: string;
  sender: string;
  action: 'add' | 'remove' | 'role' | 'rename';
  user?: QualifiedUser;
  role?: 'admin' | 'member';
  name?: string;
}

/**
 * A group item's own fields, kept as the entry's payload; a new or edited message's text is not
 * among them: it is opened from the message's row when the entry is sent.
 */
export type GroupItem =
  | { type: 'group_state'; fields: GroupStateFields }
  | { type: 'group_message'; fields: GroupMessageFields }
  | { type: 'group_post'; fields: GroupPostFields }
  | { type: 'group_request'; fields: GroupRequestFields };

/** A group item to carry to one backend, on the group's line (`g:<group uuid>`): one group's items to one backend travel in order. */
export interface GroupOutboxRequest {
  /** The message a `group_message`/`group_post` is about; none for a state or a request. */
  messageId: number | null;
  conversationId: ConversationId;
  server: string;
  receiverKey: string;
  /** The item's own id. */
  id: string;
  group: GroupItem;
  op?: undefined;
}

export type OutboxRequest = MessageOutboxRequest | GroupOutboxRequest;

/** The line of a group's items to a backend. */
export function groupLine(groupUuid: string): string {
  return `g:${groupUuid}`;
}

/** An entry queued in the caller's transaction: `claimed` when this process may send it at once. */
export interface EnqueuedEntry {
  entryId: number;
  claimed: boolean;
}

export interface Outbox {
  /**
   * Queues entries in the caller's transaction; a new message to a peer, or a group post of a new
   * message, gets its `queued` delivery. Such an entry, or a group request, with nothing before
   * it on its line is claimed for a try at once. Answers the claims of those entries by message
   * id (messages) and of every group entry by its item id.
   */
  enqueue(requests: OutboxRequest[], now: number, trx: Transaction<Tables>): Promise<EnqueuedEntries>;
}

export interface EnqueuedEntries {
  /** A new message's entry, by message id. */
  messages: Map<number, EnqueuedEntry>;
  /** Every group item's entry, by item id. */
  groupItems: Map<string, EnqueuedEntry>;
}

/** A group item's answer from the backend it went to: applied (a request's with the group's version then), or refused. */
export type GroupItemResult = { status: 200; version?: number } | { status: number; code: string } | 'queued';

/**
 * What a member's backend needs to ask a group's home for a change (a `group_request`): queue it
 * in the change's transaction, then, once committed, wait for the home's answer, at most
 * FEDERATION_TIMEOUT (`queued` past it, or when the home cannot be reached now: the request
 * stays in the outbox and is applied when it arrives).
 */
export interface GroupRequests {
  enqueue(request: { conversationId: ConversationId; home: string; fields: GroupRequestFields }, now: number, trx: Transaction<Tables>): Promise<PendingGroupRequest>;
  result(pending: PendingGroupRequest): Promise<GroupItemResult>;
}

export interface PendingGroupRequest {
  id: string;
  entryId: number;
  claimed: boolean;
  home: string;
  receiverKey: string;
  fields: GroupRequestFields;
  createdAt: number;
}

/** The delivery state of messages posted to a group homed elsewhere (federation's outbox owns it). */
export interface Deliveries {
  /** Marks the message's delivery to `server` delivered (the home ordered it); false when it was already. */
  markDelivered(messageId: number, server: string, trx: Transaction<Tables>): Promise<boolean>;
}

/** What identifies a peer's request: its id, or its token's hash. */
export interface RequestKey {
  peer: string;
  requestKey: string;
}

export interface RequestReceipts {
  /** The messages that earlier requests under these keys stored or changed, by `peer|key`. */
  findMessageIds(keys: RequestKey[], trx?: Transaction<Tables>): Promise<Map<string, number>>;
  /** Records requests that stored messages. */
  record(receipts: (RequestKey & { messageId: number })[], now: number, trx: Transaction<Tables>): Promise<void>;
  /** Records a request once; false when it was already. */
  recordOnce(receipt: RequestKey & { messageId: number }, now: number, trx: Transaction<Tables>): Promise<boolean>;
}

export function requestKeyOf(key: RequestKey): string {
  return `${key.peer}|${key.requestKey}`;
}

/** A message, a change of one, or a group item on its way to a peer, as the outbox carries it. */
export interface OutboundMessage {
  entryId: number;
  /** None for a group's state or a member's request. */
  messageId: number | null;
  uuid: string;
  peer: string;
  senderUserId: number;
  sender: string;
  receiverName: string;
  /** The text to send ('' for a delete, a read marker or a group item without text). */
  text: string;
  createdAt: number;
  /** An edit or a delete of the message, or a read marker up to it (sent under its own id, with `ref` the message's); else the message. */
  op?: OutboxOp;
  /** A read marker's reader: the local member who read (the message's sender is the peer's user). */
  readerName?: string;
  /** A group item, under its own id (`op` then unset). */
  group?: { id: string; item: GroupItem };
}
