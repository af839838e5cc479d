// The write of new messages, by group commit: one change-locked transaction per batch stores the
// messages in their conversations (a direct one is created on a first message; a group's members
// are read in the transaction, so one removed before it commits gets nothing), with the request
// receipts of peers' deliveries, the outbox entries of messages to peers, the local members' feed
// entries and their conversation rows. Repeats (a client id or a peer's request seen before) store nothing.
import type { Kysely, Transaction } from 'kysely';
import { withChangeLock } from '../db/change-transaction.js';
import type { DatabaseKind } from '../db/database.js';
import { reserveIds } from '../db/ids.js';
import type { Tables } from '../db/schema.js';
import type { DirectConversations } from '../conversations/direct.js';
import { addressOf, directKey, memberKey, nameOf, type ConversationId, type Member } from '../conversations/members.js';
import type { ConversationsRepository, MemberTouch } from '../conversations/repository.js';
import { NotFound } from '../http/errors.js';
import { groupEventEntries, type FederatedGroup, type GroupSite } from './group-federation.js';
import { requestKeyOf, type FeedEntry, type FeedLog, type GroupItem, type Outbox, type OutboxRequest, type EnqueuedEntries, type EnqueuedEntry, type Recorded, type RequestKey, type RequestReceipts } from './ports.js';
import type { MessageRecord, MessageRow, MessagesRepository } from './repository.js';
import { WriteBatcher } from '../db/write-batcher.js';

/** A group a message goes to: stored once, for every member; `home` null when this backend is its home. */
export type GroupTarget = FederatedGroup;

interface NewMessageFields {
  uuid: string;
  sender: Member;
  text: string;
  clientId: string | null;
  /** A peer's delivery: stored once per request. */
  receipt?: RequestKey;
}

/** A message to one receiver (a direct conversation) or to a group. */
export type NewMessage = NewMessageFields &
  (
    | { receiver: Member; group?: undefined; position?: undefined }
    /** `position`: the home's place for a message of a group homed elsewhere, which ordered it (its sender may have left since). */
    | { group: GroupTarget; receiver?: undefined; position?: number }
  );

type DirectMessage = NewMessageFields & { receiver: Member };

/** Who gets a message's feed entries: the local members, each once. */
type Audience = (Member & { kind: 'local' })[] | number[];

/** A new message's entry in the outbox: to a peer's user, or posted to its group's home. */
export interface QueuedMessage extends EnqueuedEntry {
  server: string;
  receiverKey: string;
  /** A post to the group's home, under its own item id. */
  group?: { id: string; item: GroupItem };
}

export type WriteResult =
  | { stored: true; record: MessageRecord; recorded: Recorded[]; outbox?: QueuedMessage; queuedForPeers: boolean }
  /** Already stored. */
  | { stored: false; record: MessageRecord };

export interface MessageStores {
  db: Kysely<Tables>;
  kind: DatabaseKind;
  messages: MessagesRepository;
  conversations: ConversationsRepository;
  direct: DirectConversations;
  feed: FeedLog;
  outbox: Outbox;
  receipts: RequestReceipts;
}

export class MessageWriter {
  private readonly batcher = new WriteBatcher<NewMessage, WriteResult>((items) => this.writeBatch(items));

  constructor(
    private readonly stores: MessageStores,
    /** Seals a text for its row, whose id is the associated data (ids are reserved before the insert). */
    private readonly seal: (text: string, id: number) => string,
    private readonly clock: () => number,
    private readonly site: GroupSite,
  ) {}

  submit(item: NewMessage): Promise<WriteResult> {
    return this.batcher.submit(item);
  }

  /** Resolves once every accepted write is committed. */
  drain(): Promise<void> {
    return this.batcher.drain();
  }

  private async writeBatch(items: NewMessage[]): Promise<WriteResult[]> {
    const { db, kind, direct } = this.stores;
    const now = this.clock();
    const { results, conversations } = await withChangeLock(db, kind, async (trx) => {
      // First, so that on SQLite the transaction holds the write lock before it reads anything;
      // an id reserved for an item that turns out to be a repeat is simply never used.
      const ids = await reserveIds(trx, kind, 'messages', items.length);
      const results: WriteResult[] = new Array(items.length);
      const earlier = await this.findEarlierWrites(items, trx);
      const firstOf = new Map<string, number>();
      const fresh: number[] = [];
      const aliases: [number, number][] = [];
      items.forEach((item, index) => {
        const key = dedupeKey(item);
        const existing = key === undefined ? undefined : earlier.get(key);
        if (existing) results[index] = { stored: false, record: existing };
        else if (key !== undefined && firstOf.has(key)) aliases.push([index, firstOf.get(key)!]);
        else {
          if (key !== undefined) firstOf.set(key, index);
          fresh.push(index);
        }
      });
      const pairs = fresh.map((index) => items[index]!).filter(isDirect);
      const conversations = pairs.length === 0 ? new Map<string, ConversationId>() : await direct.resolve(pairs, now, trx);
      if (fresh.length > 0) await this.insertFresh(fresh.map((index) => ({ index, item: items[index]!, id: ids[index]! })), conversations, results, now, trx);
      for (const [index, first] of aliases) results[index] = { stored: false, record: results[first]!.record };
      return { results, conversations };
    });
    direct.remember(conversations);
    return results;
  }

  /** Messages already stored under a batch item's client id or request receipt, by dedupe key. */
  private async findEarlierWrites(items: NewMessage[], trx: Transaction<Tables>): Promise<Map<string, MessageRecord>> {
    const found = new Map<string, MessageRecord>();
    const withClientIds = items.filter((item) => item.clientId !== null && item.sender.kind === 'local');
    if (withClientIds.length > 0) {
      const senders = [...new Set(withClientIds.map((item) => (item.sender.kind === 'local' ? item.sender.userId : 0)))];
      const records = await this.stores.messages.findByClientIds(senders, [...new Set(withClientIds.map((item) => item.clientId!))], trx);
      for (const record of records) found.set(clientIdKey(record.sender_user_id!, record.client_id!), record);
    }
    const receipts = items.flatMap((item) => (item.receipt ? [item.receipt] : []));
    if (receipts.length > 0) {
      const messageIds = await this.stores.receipts.findMessageIds(receipts, trx);
      const records = new Map((await this.stores.messages.findByIds([...new Set(messageIds.values())], trx)).map((record) => [record.id, record]));
      for (const [key, id] of messageIds) if (records.has(id)) found.set(receiptKey(key), records.get(id)!);
    }
    return found;
  }

  private async insertFresh(
    fresh: { index: number; item: NewMessage; id: number }[],
    conversations: Map<string, ConversationId>,
    results: WriteResult[],
    now: number,
    trx: Transaction<Tables>,
  ): Promise<void> {
    const { messages, feed, outbox, receipts } = this.stores;
    const written = fresh.map(({ item, id }) => ({ item, id, conversationId: item.group ? item.group.id : conversations.get(directKey(item.sender, item.receiver))! }));
    const groupAudiences = await this.groupAudiences(written.flatMap(({ item }) => (item.group ? [item] : [])), trx);
    const rows = written.map(({ item, id, conversationId }) => this.rowOf(item, id, conversationId, now));
    await messages.insert(rows, trx);
    const stored = written.flatMap(({ item, id }) => (item.receipt ? [{ ...item.receipt, messageId: id }] : []));
    if (stored.length > 0) await receipts.record(stored, now, trx);
    const toPeers = written.flatMap((message) => this.requestsToPeers(message, groupAudiences, now));
    const entries = toPeers.length > 0 ? await outbox.enqueue(toPeers, now, trx) : undefined;
    const notified: Audience[] = written.map(({ item }) => (item.group ? groupAudiences.get(item.group.id)!.userIds : localMembers(item)));
    const entriesOfFeeds = written.flatMap(({ id }, n) => notified[n]!.map((member): FeedEntry => ({ userId: userIdOf(member), type: 'message', messageId: id })));
    const recorded = await feed.appendToFeeds(entriesOfFeeds, now, trx);
    await this.touchMembers(written, now, trx);
    let next = 0;
    const requestsOf = new Map<number, OutboxRequest[]>();
    for (const request of toPeers) requestsOf.set(request.messageId!, [...(requestsOf.get(request.messageId!) ?? []), request]);
    written.forEach(({ item, id }, n) => {
      const mineToPeers = requestsOf.get(id) ?? [];
      const outbox = entries && firstTryOf(id, mineToPeers, entries);
      const record = recordOf(rows[n]!, item);
      const mine = recorded.slice(next, (next += notified[n]!.length));
      const queuedForPeers = mineToPeers.length > 0;
      results[fresh[n]!.index] = { stored: true, record, recorded: mine, queuedForPeers, ...(outbox ? { outbox } : {}) };
    });
  }

  private rowOf(item: NewMessage, id: number, conversationId: ConversationId, now: number): MessageRow {
    return {
      id,
      uuid: item.uuid,
      conversation_id: conversationId,
      sender_key: memberKey(item.sender),
      sender_user_id: item.sender.kind === 'local' ? item.sender.userId : null,
      sender: addressOf(item.sender),
      sent_to: item.receiver ? addressOf(item.receiver) : null,
      body: this.seal(item.text, id),
      // At home a group message's place in the order is its id; on a member's backend the home gives it.
      position: item.group ? (item.position ?? (item.group.home === null ? id : null)) : null,
      created_at: now,
      client_id: item.clientId,
      edited_at: null,
      deleted: 0,
    };
  }

  /** The outbox entries of a new message: to a peer's user, or a group's to each other backend with members (or its home). */
  private requestsToPeers(
    { item, id, conversationId }: { item: NewMessage; id: number; conversationId: ConversationId },
    groupAudiences: Map<ConversationId, { servers: string[] }>,
    now: number,
  ): OutboxRequest[] {
    // A message the home ordered and sent here has been everywhere already.
    if (item.position !== undefined) return [];
    if (item.group) return groupEventEntries(item.group, groupAudiences.get(item.group.id)!.servers, { kind: 'message', message: { id, uuid: item.uuid }, actor: item.sender, at: now }, this.site);
    return item.receiver.kind === 'remote' ? [{ messageId: id, conversationId, server: item.receiver.server, receiverKey: memberKey(item.receiver) }] : [];
  }

  /**
   * The local members of each group the batch writes to, read under the change lock: a member
   * removed before this commit gets nothing, one added gets it. A sender who is no member now
   * (removed meanwhile, or the group deleted) is refused: the batch is then retried item by item;
   * but a message the home already ordered is the home's to judge.
   */
  private async groupAudiences(items: NewMessage[], trx: Transaction<Tables>): Promise<Map<ConversationId, { userIds: number[]; servers: string[] }>> {
    const audiences = new Map<ConversationId, { userIds: number[]; servers: string[] }>();
    const memberKeys = new Map<ConversationId, Set<string>>();
    for (const item of items) {
      const { id } = item.group!;
      let keys = memberKeys.get(id);
      if (!keys) {
        const members = await this.stores.conversations.memberKeys(id, trx);
        memberKeys.set(id, (keys = new Set(members.map((member) => member.memberKey))));
        audiences.set(id, {
          userIds: members.flatMap((member) => (member.userId === null ? [] : [member.userId])),
          servers: members.flatMap((member) => (member.server === null ? [] : [member.server])),
        });
      }
      if (item.position === undefined && !keys.has(memberKey(item.sender))) throw new NotFound();
    }
    return audiences;
  }

  /** Direct conversations move each local member's row per message; a group moves all its rows at once per batch. */
  private async touchMembers(written: { item: NewMessage; id: number; conversationId: ConversationId }[], now: number, trx: Transaction<Tables>): Promise<void> {
    const touches: MemberTouch[] = [];
    const groups = new Map<ConversationId, { last: number; count: number; sentBy: Map<string, number>; placed: number[] }>();
    for (const { item, id, conversationId } of written) {
      if (isDirect(item)) {
        for (const member of localMembers(item)) {
          touches.push({ conversationId, member, messageId: id, unread: member.userId !== senderUserId(item), sent: member.userId === senderUserId(item), now });
        }
        continue;
      }
      const touch = groups.get(conversationId) ?? { last: 0, count: 0, sentBy: new Map<string, number>(), placed: [] };
      const sender = memberKey(item.sender);
      touch.last = Math.max(touch.last, id);
      touch.count += 1;
      if (item.position !== undefined) touch.placed.push(id);
      touch.sentBy.set(sender, (touch.sentBy.get(sender) ?? 0) + 1);
      groups.set(conversationId, touch);
    }
    await this.stores.conversations.touch(touches, trx);
    for (const [id, touch] of groups) await this.stores.conversations.touchGroup(id, touch.last, touch.sentBy, touch.count, touch.placed, trx);
  }
}

/** The entry whose first try the sender waits for: to the peer's user, or the post to the group's home. */
function firstTryOf(messageId: number, requests: OutboxRequest[], entries: EnqueuedEntries): QueuedMessage | undefined {
  const request = requests.find((candidate) => (candidate.group ? candidate.group.type === 'group_post' : candidate.op === undefined));
  const entry = request && (request.group ? entries.groupItems.get(request.id) : entries.messages.get(messageId));
  if (!request || !entry) return undefined;
  return { ...entry, server: request.server, receiverKey: request.receiverKey, ...(request.group ? { group: { id: request.id, item: request.group } } : {}) };
}

function isDirect(item: NewMessage): item is DirectMessage {
  return item.receiver !== undefined;
}

function userIdOf(member: (Member & { kind: 'local' }) | number): number {
  return typeof member === 'number' ? member : member.userId;
}

/** The message's local members, each once: they get a feed entry and their conversation row moves. */
function localMembers(item: DirectMessage): (Member & { kind: 'local' })[] {
  const members = [item.sender, item.receiver].filter((member): member is Member & { kind: 'local' } => member.kind === 'local');
  return members.length === 2 && members[0]!.userId === members[1]!.userId ? [members[0]!] : members;
}

function senderUserId(item: NewMessage): number | null {
  return item.sender.kind === 'local' ? item.sender.userId : null;
}

/** A group message is delivered once its home has it: at once at home, or when the home gave it its place. */
function groupStatus(item: NewMessage): 'delivered' | 'queued' {
  return item.group!.home === null || item.position !== undefined ? 'delivered' : 'queued';
}

// Every field named in one literal: a spread of the row followed by the other fields has V8 add
// them one at a time (about 3 % of a local send's CPU).
function recordOf(row: MessageRow, item: NewMessage): MessageRecord {
  const receiver = isDirect(item) ? item.receiver : undefined;
  return {
    id: row.id,
    uuid: row.uuid,
    conversation_id: row.conversation_id,
    sender_key: row.sender_key,
    sender_user_id: row.sender_user_id,
    sender: row.sender,
    sent_to: row.sent_to,
    body: row.body,
    created_at: row.created_at,
    client_id: row.client_id,
    edited_at: row.edited_at,
    deleted: row.deleted,
    position: row.position,
    receiver: receiver ? addressOf(receiver) : null,
    receiver_user_id: receiver?.kind === 'local' ? receiver.userId : null,
    receiver_key: receiver ? memberKey(receiver) : null,
    receiver_server: receiver?.kind === 'remote' ? receiver.server : null,
    receiver_name: receiver ? nameOf(receiver) : null,
    group: receiver ? null : item.group!.uuid,
    status: receiver ? (receiver.kind === 'remote' ? 'queued' : 'delivered') : groupStatus(item),
    read_at: null,
  };
}

function dedupeKey(item: NewMessage): string | undefined {
  if (item.receipt) return receiptKey(requestKeyOf(item.receipt));
  if (item.clientId !== null && item.sender.kind === 'local') return clientIdKey(item.sender.userId, item.clientId);
  return undefined;
}

/** The dedupe key of a local sender's client id. */
function clientIdKey(senderUserId: number, clientId: string): string {
  return `c:${senderUserId}:${clientId}`;
}

/** The dedupe key of a peer's request (its request key). */
function receiptKey(requestKey: string): string {
  return `r:${requestKey}`;
}
