// Read markers: the receiver of a message marks it and every earlier one they received in its
// conversation read. The member's read position moves forward with a marker holding the time,
// and a local sender's feed gets a `read` entry, in one change-locked transaction; a sender on a
// peer is told through the outbox (a `read` item), and a peer's reader arrives the same way. In a
// group any member moves their own position forward (never back), and the other members' feeds get it.
import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { withChangeLock } from '../db/change-transaction.js';
import type { DatabaseKind } from '../db/database.js';
import type { Tables } from '../db/schema.js';
import type { PeerLookup } from '../conversations/addresses.js';
import type { GroupMembership, GroupQueries } from '../conversations/group-queries.js';
import { addressOf, conversationId, localMember, memberKey, remoteMember, type ConversationId, type KnownPeer, type Member } from '../conversations/members.js';
import type { ConversationsRepository } from '../conversations/repository.js';
import { Forbidden, NotFound } from '../http/errors.js';
import { foldKey } from '../unicode/fold.js';
import type { MessageEvents } from './events.js';
import { groupEventEntries, type FederatedGroup, type GroupSite } from './group-federation.js';
import type { FeedEntry, FeedLog, Outbox, RequestKey, RequestReceipts } from './ports.js';
import { comesBefore, groupPlace } from '../conversations/group-order.js';
import type { MessageRecord, MessagesRepository } from './repository.js';
import type { MessageView, MessageViews } from './view.js';

/** What carries read markers to and from peers, and to a group's other backends. */
export interface ReadForwarding {
  outbox: Outbox;
  receipts: RequestReceipts;
  peers: PeerLookup;
  site: GroupSite;
}

/** A member's read of a group's messages up to one (by uuid), maybe a peer's user at the group's home. */
export interface GroupRead {
  actor: Member;
  membership: GroupMembership;
  message: string;
  /** A peer's item: applied once per id. */
  receipt?: RequestKey;
}

/** A peer's `read` item: its user `reader` read every message from our `partner` up to `upTo`. */
export interface InboundRead {
  peer: KnownPeer;
  reader: string;
  partner: string;
  /** The id the message was delivered with. */
  upTo: string;
  readAt: number;
  requestKey: string;
}

/** A forward move of one member's read position, with who is told of it. */
interface MarkerMove {
  record: MessageRecord;
  readerKey: string;
  readAt: number;
  marker: { with: string; up_to: number; read_at: string };
  entries: FeedEntry[];
}

export class ReadMarkers {
  constructor(
    private readonly db: Kysely<Tables>,
    private readonly kind: DatabaseKind,
    private readonly messages: MessagesRepository,
    private readonly conversations: ConversationsRepository,
    private readonly groups: GroupQueries,
    private readonly feed: FeedLog,
    private readonly views: MessageViews,
    private readonly events: MessageEvents,
    private readonly clock: () => number,
    private readonly forwarding?: ReadForwarding,
  ) {}

  /** Marks a received message and every earlier one from the same sender read. */
  async markRead(user: { id: number; username: string }, messageId: number): Promise<MessageView> {
    const record = await this.messages.findById(messageId);
    if (record?.group) return this.markGroupRead(user, record, record.group);
    if (!record || (record.sender_user_id !== user.id && record.receiver_user_id !== user.id)) throw new NotFound();
    if (record.receiver_user_id !== user.id) throw new Forbidden('forbidden', 'Only the receiver may mark a message read.');
    if (record.read_at !== null) return this.views.view(record);
    const now = this.clock();
    const marker = { with: user.username, up_to: record.id, read_at: new Date(now).toISOString() };
    const tellSender = record.sender_user_id !== null && record.sender_user_id !== user.id;
    const entries: FeedEntry[] = tellSender ? [{ userId: record.sender_user_id!, type: 'read', messageId: null, data: marker }] : [];
    const move = { record, readerKey: record.receiver_key!, readAt: now, marker, entries };
    let peer: string | undefined;
    const recorded = await withChangeLock(this.db, this.kind, async (trx) => {
      const moved = await this.move(move, trx);
      if (moved) peer = await this.forward(record, now, trx);
      return moved ?? [];
    });
    if (recorded.length > 0 || peer) await this.events.emit('message.read', { marker, recorded, ...(peer ? { peer } : {}) });
    const updated = await this.messages.findById(messageId);
    return this.views.view(updated ?? { ...record, read_at: now });
  }

  /** Applies a peer's read marker once per request: our sender's message and the earlier ones were read there. */
  async receiveRead(read: InboundRead): Promise<void> {
    const readerKey = memberKey(remoteMember(read.peer, read.reader));
    const record = (await this.messages.findByUuid(read.upTo)).find(
      (candidate) => candidate.sender_user_id !== null && candidate.receiver_key === readerKey && foldKey(candidate.sender) === foldKey(read.partner),
    );
    if (!record) throw new NotFound('not_found', 'No message from this partner to this reader was delivered with this id.');
    const receipts = this.forwarding?.receipts;
    // Not in the future, nor before the message was written: a peer's clock, or a peer, may say so.
    const readAt = Math.max(record.created_at, Math.min(read.readAt, this.clock()));
    const marker = { with: record.receiver!, up_to: record.id, read_at: new Date(readAt).toISOString() };
    const entries: FeedEntry[] = [{ userId: record.sender_user_id!, type: 'read', messageId: null, data: marker }];
    const recorded = await withChangeLock(this.db, this.kind, async (trx) => {
      if (receipts && !(await receipts.recordOnce({ peer: read.peer.name, requestKey: read.requestKey, messageId: record.id }, readAt, trx))) return [];
      return (await this.move({ record, readerKey, readAt, marker, entries }, trx)) ?? [];
    });
    if (recorded.length > 0) await this.events.emit('message.read', { marker, recorded });
  }

  /** Moves the reader's position up to the record, with its marker and entries; undefined when it was there already. */
  private async move(move: MarkerMove, trx: Transaction<Tables>) {
    const id = conversationId(move.record.conversation_id);
    const reader = (await this.conversations.members(id, trx)).find((member) => member.member_key === move.readerKey);
    const from = Number(reader?.read_up_to ?? 0);
    if (from >= move.record.id) return undefined;
    // In a conversation with oneself, one's own messages are the received ones.
    const { passed, unread } = await this.messages.countReceived(id, move.readerKey === move.record.sender_key ? null : move.readerKey, from, move.record.id, trx);
    if (passed === 0) return undefined;
    await this.conversations.markRead(id, move.readerKey, move.record.id, unread, move.readAt, trx);
    return this.feed.appendToFeeds(move.entries, move.readAt, trx);
  }

  /** Moves a member's read position in a group forward to the message; 404 for a non-member. */
  private async markGroupRead(user: { id: number; username: string }, record: MessageRecord, groupId: string): Promise<MessageView> {
    const group = await this.groups.findGroup(groupId, user.id);
    if (!group) throw new NotFound();
    await this.moveInGroup(record, { key: group.memberKey, address: user.username }, { group, actor: localMember(user) });
    return this.views.view(record);
  }

  /** A member's read of a group's message by its uuid, at the group's home (a peer's user's): once per item. */
  async readInGroup(read: GroupRead): Promise<void> {
    const record = (await this.messages.findByUuid(read.message)).find((candidate) => candidate.conversation_id === read.membership.id);
    if (!record) throw new NotFound('not_found', 'No such message in this group.');
    await this.moveInGroup(record, { key: read.membership.memberKey, address: addressOf(read.actor) }, { group: read.membership, actor: read.actor }, read.receipt);
  }

  /**
   * Moves a member's read position in a copy of a group homed elsewhere forward to the message,
   * as the home says they read (any member: one of ours, or of another backend).
   */
  async receiveGroupRead(record: MessageRecord, reader: { key: string; address: string }): Promise<void> {
    await this.moveInGroup(record, reader);
  }

  /**
   * Moves the reader's position forward to the record (never back); the group's other local
   * members are told, and for a read made here (`routed`) the group's other backends (or its home).
   */
  private async moveInGroup(record: MessageRecord, reader: { key: string; address: string }, routed?: { group: FederatedGroup; actor: Member }, receipt?: RequestKey): Promise<void> {
    const now = this.clock();
    const id = conversationId(record.conversation_id);
    const marker = { group: record.group!, user: reader.address, up_to: record.id };
    let queued = false;
    const recorded = await withChangeLock(this.db, this.kind, async (trx) => {
      if (receipt && this.forwarding && !(await this.forwarding.receipts.recordOnce({ ...receipt, messageId: record.id }, now, trx))) return [];
      const members = await this.conversations.members(id, trx);
      const from = Number(members.find((member) => member.member_key === reader.key)?.read_up_to ?? record.id);
      const marked = await this.unreadUpTo(id, reader.key, from, record, trx);
      if (marked === undefined) return [];
      await this.conversations.markRead(id, reader.key, record.id, marked, now, trx, false);
      if (routed && this.forwarding) {
        const servers = members.flatMap((member) => (member.server === null ? [] : [member.server]));
        const requests = groupEventEntries(routed.group, servers, { kind: 'read', message: { id: record.id, uuid: record.uuid }, actor: routed.actor, at: now }, this.forwarding.site);
        if (requests.length > 0) await this.forwarding.outbox.enqueue(requests, now, trx);
        queued = requests.length > 0;
      }
      const others = members.filter((member) => member.user_id !== null && member.member_key !== reader.key);
      return this.feed.appendToFeeds(
        others.map((member): FeedEntry => ({ userId: Number(member.user_id), type: 'read', messageId: null, data: marker, conversationId: id })),
        now,
        trx,
      );
    });
    if (recorded.length > 0 || queued) await this.events.emit('message.read', { marker, recorded, queued });
  }

  /**
   * How many of the group's messages from others the reader's position passes over moving from
   * message `fromId` (0: none read) to the record, in the group's order; undefined when the record
   * is not past it (a position never moves back).
   */
  private async unreadUpTo(id: ConversationId, readerKey: string, fromId: number, record: MessageRecord, trx: Transaction<Tables>): Promise<number | undefined> {
    const to = groupPlace(record);
    // A position stands at a message of the group, which a delete leaves as a tombstone.
    const from = fromId === 0 ? { order: -1, id: 0 } : await this.messages.placeInGroup(fromId, trx);
    return from && comesBefore(from, to) ? this.messages.countReceivedInGroup(id, readerKey, from, to, trx) : undefined;
  }

  /** Queues the marker for a sender on a RealChat peer (the original backend has no read markers); answers the peer. */
  private async forward(record: MessageRecord, now: number, trx: Transaction<Tables>): Promise<string | undefined> {
    if (!this.forwarding || record.sender_user_id !== null) return undefined;
    const id: ConversationId = conversationId(record.conversation_id);
    const sender = (await this.conversations.members(id, trx)).find((member) => member.member_key === record.sender_key);
    const peer = sender?.server ? this.forwarding.peers.find(sender.server) : undefined;
    if (!peer || peer.compat) return undefined;
    await this.forwarding.outbox.enqueue([{ messageId: record.id, conversationId: id, server: peer.name, receiverKey: record.sender_key, op: { kind: 'read', id: randomUUID() } }], now, trx);
    return peer.name;
  }
}
