// Read markers: the receiver of a message marks it and every earlier one they received in its
// conversation read. The member's read position moves forward with a marker holding the time,
// and a local sender's feed gets a `read` entry, in one change-locked transaction. In a group any
// member moves their own position forward (never back), and the other members' feeds get it.
import type { Kysely } from 'kysely';
import { withChangeLock } from '../db/change-transaction.js';
import type { DatabaseKind } from '../db/database.js';
import type { Tables } from '../db/schema.js';
import type { GroupQueries } from '../conversations/group-queries.js';
import { conversationId } from '../conversations/members.js';
import type { ConversationsRepository } from '../conversations/repository.js';
import { Forbidden, NotFound } from '../http/errors.js';
import type { MessageEvents } from './events.js';
import type { FeedEntry, FeedLog } from './ports.js';
import type { MessageRecord, MessagesRepository } from './repository.js';
import type { MessageView, MessageViews } from './view.js';

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
    const id = conversationId(record.conversation_id);
    const readerKey = record.receiver_key!;
    const recorded = await withChangeLock(this.db, this.kind, async (trx) => {
      const reader = (await this.conversations.members(id, trx)).find((member) => member.member_key === readerKey);
      const from = Number(reader?.read_up_to ?? 0);
      if (from >= record.id) return [];
      // In a conversation with oneself, one's own messages are the received ones.
      const marked = await this.messages.countReceived(id, readerKey === record.sender_key ? null : readerKey, from, record.id, trx);
      if (marked === 0) return [];
      await this.conversations.markRead(id, readerKey, record.id, marked, now, trx);
      return this.feed.appendToFeeds(entries, now, trx);
    });
    if (recorded.length > 0) await this.events.emit('message.read', { marker, recorded });
    const updated = await this.messages.findById(messageId);
    return this.views.view(updated ?? { ...record, read_at: now });
  }

  /** Moves a member's read position in a group forward to the message; 404 for a non-member. */
  private async markGroupRead(user: { id: number; username: string }, record: MessageRecord, groupId: string): Promise<MessageView> {
    const group = await this.groups.findGroup(groupId, user.id);
    if (!group) throw new NotFound();
    const now = this.clock();
    const id = group.id;
    const marker = { group: groupId, user: user.username, up_to: record.id };
    const recorded = await withChangeLock(this.db, this.kind, async (trx) => {
      const members = await this.conversations.members(id, trx);
      const from = Number(members.find((member) => member.member_key === group.memberKey)?.read_up_to ?? record.id);
      if (from >= record.id) return undefined;
      const marked = await this.messages.countReceived(id, group.memberKey, from, record.id, trx);
      await this.conversations.markRead(id, group.memberKey, record.id, marked, now, trx, false);
      const others = members.filter((member) => member.user_id !== null && Number(member.user_id) !== user.id);
      return this.feed.appendToFeeds(
        others.map((member): FeedEntry => ({ userId: Number(member.user_id), type: 'read', messageId: null, data: marker, conversationId: id })),
        now,
        trx,
      );
    });
    if (recorded && recorded.length > 0) await this.events.emit('message.read', { marker, recorded });
    return this.views.view(record);
  }
}
