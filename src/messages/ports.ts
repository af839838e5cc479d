// What writing a message needs from the features that follow it, declared here so that they
// depend on messages and not the other way round: the feed's log (an entry per local member,
// numbered in the message's transaction), federation's outbox and its request receipts. Each
// takes the caller's transaction, which holds the change lock.
import type { Transaction } from 'kysely';
import type { Tables } from '../db/schema.js';
import type { ConversationId } from '../conversations/members.js';

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
export interface OutboxRequest {
  messageId: number;
  conversationId: ConversationId;
  server: string;
  /** The receiver's member key: entries go out in order per receiver. */
  receiverKey: string;
  /** A change of the message, or a read marker up to it, under its own request id; none for the message itself. */
  op?: OutboxOp;
}

/** What an outbox entry carries besides the message itself: an edit, a delete, or a read marker up to it. */
export interface OutboxOp {
  kind: 'edit' | 'delete' | 'read';
  id: string;
}

export interface Outbox {
  /**
   * Queues entries in the caller's transaction; a new message gets its `queued` delivery. A
   * message's entry with nothing before it for its receiver is claimed for a try at once.
   */
  enqueue(requests: OutboxRequest[], now: number, trx: Transaction<Tables>): Promise<Map<number, { entryId: number; claimed: boolean }>>;
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

/** A message on its way to a peer, as the outbox carries it. */
export interface OutboundMessage {
  entryId: number;
  messageId: number;
  uuid: string;
  peer: string;
  senderUserId: number;
  sender: string;
  receiverName: string;
  /** The text to send ('' for a delete). */
  text: string;
  createdAt: number;
  /** An edit or a delete of the message, or a read marker up to it (sent under its own id, with `ref` the message's); else the message. */
  op?: OutboxOp;
  /** A read marker's reader: the local member who read (the message's sender is the peer's user). */
  readerName?: string;
}
