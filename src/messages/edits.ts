// Edits and deletes: by the sender on this backend (PATCH/DELETE /accounts/messages/{id}/), and
// by a sender on a peer (an `op` on receive-message). Each is written with its `message_updated`
// feed entries and, for a message that went to a peer, an outbox entry behind it. In a group the
// owner and admins may also delete anyone's message (nobody edits another's), and the entries go
// to the members of the moment.
import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { foldKey } from '../unicode/fold.js';
import type { PeerLookup } from '../conversations/addresses.js';
import type { GroupMembership, GroupQueries } from '../conversations/group-queries.js';
import { conversationId, localMember, memberKey, remoteMember, type ConversationId, type KnownPeer, type Member } from '../conversations/members.js';
import type { ConversationsRepository } from '../conversations/repository.js';
import { sealAtRest, type KeyRing } from '../crypto/aead.js';
import { withChangeLock } from '../db/change-transaction.js';
import type { DatabaseKind } from '../db/database.js';
import type { Tables } from '../db/schema.js';
import { Conflict, Forbidden, NotFound } from '../http/errors.js';
import type { MessageEvents } from './events.js';
import { groupEventEntries, type FederatedGroup, type GroupMessageEvent, type GroupSite } from './group-federation.js';
import type { FeedEntry, FeedLog, Outbox, OutboxRequest, RequestKey, RequestReceipts } from './ports.js';
import { comesBefore, groupPlace } from '../conversations/group-order.js';
import type { MessageRecord, MessagesRepository } from './repository.js';
import { checkReceivedText, checkText } from './service.js';
import type { MessageView, MessageViews } from './view.js';

export interface InboundChange {
  peer: KnownPeer;
  op: 'edit' | 'delete';
  senderName: string;
  receiverName: string;
  /** The id the changed message was delivered with. */
  ref: string;
  /** The new text of an edit. */
  text?: string;
  requestKey: string;
}

/** An edit or a delete of a stored message, with what follows it in the same transaction. */
interface MessageEdit {
  record: MessageRecord;
  now: number;
  entries: FeedEntry[];
  /** A group message's: the entries go to its members, read in the transaction. */
  group?: ConversationId;
  /** A change made here to a group's message: it goes to the group's other backends (or its home). */
  routed?: Routed;
  outbox?: OutboxRequest;
  /** A change a peer delivered: applied once per request. */
  receipt?: RequestKey;
}

/** Who changed a group's message, in which group. */
interface Routed {
  group: FederatedGroup;
  actor: Member;
}

type EditResult = { applied: true; record: MessageRecord; recorded: { userId: number; seq: number; prev: number }[]; queued: boolean } | { applied: false; reason: 'deleted' | 'duplicate' };

/** An edit or a delete of a group's message by a member, maybe a peer's user at the group's home. */
export interface GroupMessageEdit {
  actor: Member;
  /** The group as the actor is a member of it. */
  membership: GroupMembership;
  op: 'edit' | 'delete';
  /** The message's uuid. */
  message: string;
  text?: string;
  /** A peer's item: applied once per id. */
  receipt?: RequestKey;
}

export interface EditStores {
  db: Kysely<Tables>;
  kind: DatabaseKind;
  messages: MessagesRepository;
  conversations: ConversationsRepository;
  receipts: RequestReceipts;
  outbox: Outbox;
  feed: FeedLog;
}

export class MessageEdits {
  constructor(
    private readonly stores: EditStores,
    private readonly ring: KeyRing,
    private readonly peers: PeerLookup,
    private readonly groups: GroupQueries,
    private readonly views: MessageViews,
    private readonly events: MessageEvents,
    private readonly clock: () => number,
    private readonly site: GroupSite,
  ) {}

  async edit(user: { id: number; username: string }, messageId: number, message: string): Promise<MessageView> {
    const { record, group } = await this.changeable(user.id, messageId, 'edit');
    if (record.deleted === 1) throw deletedConflict();
    const text = checkText(message);
    const now = this.clock();
    const result = await this.apply(this.editOf(record, 'edit', now, group && { group, actor: localMember(user) }), { body: sealAtRest(this.ring, text, String(record.id)), editedAt: now });
    if (!result.applied) throw deletedConflict();
    return this.applied(result.record, result.recorded, result.queued);
  }

  /** Deleting a deleted message changes nothing, and is not an error. */
  async delete(user: { id: number; username: string }, messageId: number): Promise<void> {
    const { record, group } = await this.changeable(user.id, messageId, 'delete');
    if (record.deleted === 1) return;
    const result = await this.apply(this.editOf(record, 'delete', this.clock(), group && { group, actor: localMember(user) }), { body: '', deleted: true });
    if (result.applied) await this.applied(result.record, result.recorded, result.queued);
  }

  /**
   * A member's edit or delete of a group's message by its uuid, with the rules of a local one (edit
   * one's own; delete one's own, or anyone's as owner or admin): a peer's user at the group's home.
   */
  async changeInGroup(change: GroupMessageEdit): Promise<void> {
    const { membership, actor, op } = change;
    const record = (await this.stores.messages.findByUuid(change.message)).find((candidate) => candidate.conversation_id === membership.id);
    if (!record) throw new NotFound('not_found', 'No such message in this group.');
    const own = record.sender_key === memberKey(actor);
    if (!own && (op === 'edit' || membership.role === 'member')) throw new Forbidden('forbidden', op === 'edit' ? 'Only the sender may edit a message.' : 'Only the sender, the owner or an admin may delete a message in a group.');
    if (record.deleted === 1) {
      if (op === 'edit') throw deletedConflict();
      return;
    }
    const now = this.clock();
    const edit: MessageEdit = { ...this.editOf(record, op, now, { group: membership, actor }), ...(change.receipt ? { receipt: change.receipt } : {}) };
    const set = op === 'edit' ? { body: sealAtRest(this.ring, checkText(change.text ?? ''), String(record.id)), editedAt: now } : { body: '', deleted: true as const };
    const result = await this.apply(edit, set);
    if (result.applied) await this.applied(result.record, result.recorded, result.queued);
    else if (result.reason === 'deleted' && op === 'edit') throw deletedConflict();
  }

  /**
   * Applies a peer's change once per request id; answers the new text ('' for a delete, or when
   * deleted), and a repeat of the request the message's text now (no earlier text is kept).
   */
  async receive(inbound: InboundChange): Promise<string> {
    const receipt = { peer: inbound.peer.name, requestKey: inbound.requestKey };
    const earlier = await this.textNowFor(receipt);
    if (earlier !== undefined) return earlier;
    const candidates = await this.stores.messages.findByUuid(inbound.ref);
    if (candidates.length === 0) throw new NotFound('not_found', 'No message was delivered with this ref.');
    const sender = memberKey(remoteMember(inbound.peer, inbound.senderName));
    const record = candidates.find(
      (candidate) =>
        candidate.sender_key === sender && candidate.receiver_user_id !== null && candidate.receiver_name !== null && foldKey(candidate.receiver_name) === foldKey(inbound.receiverName),
    );
    if (!record) throw new Forbidden('forbidden', 'The ref is not a message this peer delivered from this sender to this receiver.');
    const text = inbound.op === 'edit' ? checkReceivedText(inbound.text ?? '') : '';
    if (record.deleted === 1) return '';
    const now = this.clock();
    const edit: MessageEdit = { record, now, entries: [{ userId: record.receiver_user_id!, type: 'message_updated', messageId: record.id }], receipt };
    const set = inbound.op === 'edit' ? { body: sealAtRest(this.ring, text, String(record.id)), editedAt: now } : { body: '', deleted: true as const };
    const result = await this.apply(edit, set);
    if (result.applied) {
      await this.applied(result.record, result.recorded, result.queued);
      return text;
    }
    if (result.reason === 'deleted') return '';
    // A repeat that arrived at the same moment was stored first.
    return (await this.textNowFor(receipt)) ?? text;
  }

  /**
   * Applies an edit or a delete that the home of the message's group made (a copy follows its
   * home, which checked who may), once per item of the home's (`receipt`).
   */
  async applyFromHome(record: MessageRecord, change: { op: 'edit' | 'delete'; text: string; receipt: RequestKey }): Promise<void> {
    if (record.deleted === 1) return;
    const now = this.clock();
    const set = change.op === 'edit' ? { body: sealAtRest(this.ring, checkReceivedText(change.text), String(record.id)), editedAt: now } : { body: '', deleted: true as const };
    const result = await this.apply({ record, now, entries: [], group: conversationId(record.conversation_id), receipt: change.receipt }, set);
    if (result.applied) await this.applied(result.record, result.recorded, result.queued);
  }

  /** Edits or erases a message that is not deleted, with its entries, its outbox entry and its receipt. */
  private apply(edit: MessageEdit, set: { body: string; editedAt?: number; deleted?: true }): Promise<EditResult> {
    const { db, kind, messages, conversations, receipts, outbox, feed } = this.stores;
    return withChangeLock(db, kind, async (trx): Promise<EditResult> => {
      if (edit.receipt && !(await receipts.recordOnce({ ...edit.receipt, messageId: edit.record.id }, edit.now, trx))) return { applied: false, reason: 'duplicate' };
      if (!(await messages.change(edit.record.id, set, trx))) return { applied: false, reason: 'deleted' };
      if (set.deleted) await this.forgetUnread(edit.record, trx);
      const { group, routed } = edit;
      const members = group === undefined ? [] : await conversations.memberKeys(group, trx);
      const entries =
        group === undefined
          ? edit.entries
          : members.flatMap((member): FeedEntry[] => (member.userId === null ? [] : [{ userId: member.userId, type: 'message_updated', messageId: edit.record.id, conversationId: group }]));
      const recorded = await feed.appendToFeeds(entries, edit.now, trx);
      const event: GroupMessageEvent | undefined = routed && { kind: set.deleted ? 'delete' : 'edit', message: { id: edit.record.id, uuid: edit.record.uuid }, actor: routed.actor, at: edit.now };
      const servers = members.flatMap((member) => (member.server === null ? [] : [member.server]));
      const requests = [...(edit.outbox ? [edit.outbox] : []), ...(routed && event ? groupEventEntries(routed.group, servers, event, this.site) : [])];
      if (requests.length > 0) await outbox.enqueue(requests, edit.now, trx);
      const record = await messages.findById(edit.record.id, trx);
      return { applied: true, record: record!, recorded, queued: requests.length > 0 };
    });
  }

  /**
   * A deleted message no longer counts as unread: one fewer for each local member (its sender
   * aside) whose read position is before it in the conversation's order (none read: position 0).
   */
  private async forgetUnread(record: MessageRecord, trx: Transaction<Tables>): Promise<void> {
    const { conversations, messages } = this.stores;
    const id = conversationId(record.conversation_id);
    const members = (await conversations.members(id, trx)).filter((row) => row.user_id !== null && row.member_key !== record.sender_key);
    const places = await messages.placesOf([...new Set(members.map((row) => Number(row.read_up_to)).filter((id) => id !== 0))], trx);
    const deleted = groupPlace(record);
    const unreadBy = members.filter((row) => {
      const read = Number(row.read_up_to) === 0 ? undefined : places.get(Number(row.read_up_to));
      return read === undefined || comesBefore(read, deleted);
    });
    await conversations.forgetUnread(id, unreadBy.map((row) => row.member_key), trx);
  }

  /** The text now of the message an earlier request of the peer under this key changed, if there was one. */
  private async textNowFor(receipt: RequestKey): Promise<string | undefined> {
    const [id] = (await this.stores.receipts.findMessageIds([receipt])).values();
    const record = id === undefined ? undefined : await this.stores.messages.findById(id);
    return record && this.views.textOf(record);
  }

  /**
   * The message, if the user may change it: 404 for a stranger to it (a non-member of its group),
   * 403 for its receiver, and in a group for a member who is not its sender (but for a delete by
   * the owner or an admin).
   */
  private async changeable(userId: number, messageId: number, op: 'edit' | 'delete'): Promise<{ record: MessageRecord; group?: GroupMembership }> {
    const record = await this.stores.messages.findById(messageId);
    if (record?.group) {
      const group = await this.groups.findGroup(record.group, userId);
      if (!group) throw new NotFound();
      if (record.sender_user_id === userId || (op === 'delete' && group.role !== 'member')) return { record, group };
      throw new Forbidden(
        'forbidden',
        op === 'edit' ? 'Only the sender may edit a message.' : 'Only the sender, the owner or an admin may delete a message in a group.',
      );
    }
    if (!record || (record.sender_user_id !== userId && record.receiver_user_id !== userId)) throw new NotFound();
    if (record.sender_user_id !== userId) throw new Forbidden('forbidden', 'Only the sender may edit or delete a message.');
    return { record };
  }

  /** The entries for both members here, and the outbox entry when the message went to a peer. */
  private editOf(record: MessageRecord, op: 'edit' | 'delete', now: number, routed?: Routed): MessageEdit {
    if (routed) return { record, now, entries: [], group: routed.group.id, routed };
    const users = [...new Set([record.sender_user_id, record.receiver_user_id].filter((id): id is number => id !== null))];
    const entries: FeedEntry[] = users.map((userId) => ({ userId, type: 'message_updated', messageId: record.id }));
    const peer = record.receiver_server === null ? undefined : this.peers.find(record.receiver_server);
    // A compat peer (the original backend) has no such operation; a failed message never arrived.
    if (!peer || peer.compat || record.status === 'failed') return { record, now, entries };
    const outbox: OutboxRequest = {
      messageId: record.id,
      conversationId: conversationId(record.conversation_id),
      server: peer.name,
      receiverKey: record.receiver_key!,
      op: { kind: op, id: randomUUID() },
    };
    return { record, now, entries, outbox };
  }

  private async applied(record: MessageRecord, recorded: { userId: number; seq: number; prev: number }[], queued: boolean): Promise<MessageView> {
    const message = this.views.view(record);
    await this.events.emit('message.changed', { message, recorded, queued });
    return message;
  }
}

function deletedConflict(): Conflict {
  return new Conflict('deleted', 'This message has been deleted and cannot be edited.');
}
