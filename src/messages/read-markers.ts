// Read markers: the receiver of a message marks it and every earlier one they received in its
// conversation read. The member's read position moves forward with a marker holding the time,
// and a local sender's feed gets a `read` entry, in one change-locked transaction.
import type { Kysely } from 'kysely';
import { withChangeLock } from '../db/change-transaction.js';
import type { DatabaseKind } from '../db/database.js';
import type { Tables } from '../db/schema.js';
import { conversationId } from '../conversations/members.js';
import type { ConversationsRepository } from '../conversations/repository.js';
import { Forbidden, NotFound } from '../http/errors.js';
import type { MessageEvents } from './events.js';
import type { FeedEntry, FeedLog } from './ports.js';
import type { MessagesRepository } from './repository.js';
import type { MessageView, MessageViews } from './view.js';

export class ReadMarkers {
  constructor(
    private readonly db: Kysely<Tables>,
    private readonly kind: DatabaseKind,
    private readonly messages: MessagesRepository,
    private readonly conversations: ConversationsRepository,
    private readonly feed: FeedLog,
    private readonly views: MessageViews,
    private readonly events: MessageEvents,
    private readonly clock: () => number,
  ) {}

  /** Marks a received message and every earlier one from the same sender read. */
  async markRead(user: { id: number; username: string }, messageId: number): Promise<MessageView> {
    const record = await this.messages.findById(messageId);
    if (!record || (record.sender_user_id !== user.id && record.receiver_user_id !== user.id)) throw new NotFound();
    if (record.receiver_user_id !== user.id) throw new Forbidden('forbidden', 'Only the receiver may mark a message read.');
    if (record.read_at !== null) return this.views.view(record);
    const now = this.clock();
    const marker = { with: user.username, up_to: record.id, read_at: new Date(now).toISOString() };
    const tellSender = record.sender_user_id !== null && record.sender_user_id !== user.id;
    const entries: FeedEntry[] = tellSender ? [{ userId: record.sender_user_id!, type: 'read', messageId: null, data: marker }] : [];
    const id = conversationId(record.conversation_id);
    const readerKey = record.receiver_key;
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
}
