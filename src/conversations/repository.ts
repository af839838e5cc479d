// All SQL of conversations, their members and read markers: finding and creating direct
// conversations, moving each local member's row (last message, unread count) as messages are
// written, read positions, and the audiences of presence and typing.
import { sql, type InsertResult, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { DatabaseKind } from '../db/database.js';
import { insertRows, type InsertFinish } from '../db/insert-rows.js';
import type { ConversationMembersTable, Tables } from '../db/schema.js';
import { addressOf, conversationId, memberKey, nameOf, type ConversationId, type Member } from './members.js';

export type MemberRow = Selectable<ConversationMembersTable>;
type Executor = Kysely<Tables> | Transaction<Tables>;

export interface NewDirectConversation {
  directKey: string;
  uuid: string;
  /** One member for a conversation with oneself. */
  members: Member[];
}

/** What a new message does to a local member's row. */
export interface MemberTouch {
  conversationId: ConversationId;
  member: Member & { kind: 'local' };
  messageId: number;
  /** The message counts as unread for this member (they received it). */
  unread: boolean;
  /** This member sent it. */
  sent: boolean;
  now: number;
}

export interface ConversationListRow {
  conversationId: ConversationId;
  /** The other member's address (one's own, in a conversation with oneself). */
  partner: string;
  unread: number;
  lastMessageId: number;
}

export class ConversationsRepository {
  constructor(
    private readonly db: Kysely<Tables>,
    private readonly kind: DatabaseKind,
  ) {}

  /** The ids of the direct conversations that exist among these keys. */
  async findDirect(directKeys: string[], trx: Executor = this.db): Promise<Map<string, ConversationId>> {
    if (directKeys.length === 0) return new Map();
    const rows = await trx.selectFrom('conversations').select(['id', 'direct_key']).where('direct_key', 'in', directKeys).execute();
    return new Map(rows.map((row) => [row.direct_key!, conversationId(Number(row.id))]));
  }

  /** Creates direct conversations with their member rows; answers their ids by direct key. */
  async createDirect(conversations: NewDirectConversation[], now: number, trx: Transaction<Tables>): Promise<Map<string, ConversationId>> {
    if (conversations.length === 0) return new Map();
    const { rows } = await insertRows(
      trx,
      this.kind,
      'conversations',
      conversations.map((conversation) => ({ uuid: conversation.uuid, kind: 'direct' as const, direct_key: conversation.directKey, home: null, title: null, created_at: now })),
      returningIds,
    );
    const ids = new Map(rows.map((row) => [row.direct_key!, conversationId(Number(row.id))]));
    const members = conversations.flatMap((conversation) => conversation.members.map((member) => memberRow(ids.get(conversation.directKey)!, member, now)));
    await insertRows(trx, this.kind, 'conversation_members', members);
    return ids;
  }

  /**
   * Moves local members' rows to new messages: the last message, one more unread for a receiver,
   * and the sent flag for a sender. Run after the feed's heads were read in the transaction.
   */
  async touch(touches: MemberTouch[], trx: Transaction<Tables>): Promise<void> {
    // One row per member per statement: PostgreSQL refuses to upsert a row twice in one.
    const rows = new Map<string, MemberRow>();
    for (const touch of touches) {
      const key = `${touch.conversationId}|${memberKey(touch.member)}`;
      const current = rows.get(key);
      rows.set(key, {
        ...memberRow(touch.conversationId, touch.member, touch.now),
        unread: (current?.unread ?? 0) + (touch.unread ? 1 : 0),
        last_message_id: touch.messageId,
        has_sent: current?.has_sent === 1 || touch.sent ? 1 : 0,
      });
    }
    if (rows.size > 0) await insertRows(trx, this.kind, 'conversation_members', [...rows.values()], addToMember);
  }

  async members(id: ConversationId, trx: Executor = this.db): Promise<MemberRow[]> {
    return trx.selectFrom('conversation_members').selectAll().where('conversation_id', '=', id).execute();
  }

  /** The user's conversations that have a message, most recent first. */
  async list(userId: number, beforeMessageId: number | undefined, limit: number): Promise<ConversationListRow[]> {
    let query = this.db
      .selectFrom('conversation_members as me')
      .leftJoin('conversation_members as other', (join) => join.onRef('other.conversation_id', '=', 'me.conversation_id').onRef('other.member_key', '<>', 'me.member_key'))
      .select((eb) => ['me.conversation_id as conversationId', 'me.unread as unread', 'me.last_message_id as lastMessageId', eb.fn.coalesce('other.address', 'me.address').as('partner')])
      .where('me.user_id', '=', userId)
      .where('me.last_message_id', 'is not', null);
    if (beforeMessageId !== undefined) query = query.where('me.last_message_id', '<', beforeMessageId);
    const rows = await query.orderBy('me.last_message_id', 'desc').limit(limit).execute();
    return rows.map((row) => ({ conversationId: conversationId(Number(row.conversationId)), partner: row.partner, unread: Number(row.unread), lastMessageId: Number(row.lastMessageId) }));
  }

  /**
   * Moves a member's read position forward to `upTo`, over `marked` unread messages, with a
   * marker holding the time (what each message's read_at reads).
   */
  async markRead(id: ConversationId, key: string, upTo: number, marked: number, now: number, trx: Transaction<Tables>): Promise<void> {
    await trx
      .updateTable('conversation_members')
      .set({ read_up_to: upTo, unread: sql<number>`case when unread > ${marked} then unread - ${marked} else 0 end` })
      .where('conversation_id', '=', id)
      .where('member_key', '=', key)
      .execute();
    await trx.insertInto('read_markers').values({ conversation_id: id, member_key: key, up_to: upTo, read_at: now }).execute();
  }

  /**
   * The user's local partners in established direct conversations (both have written, or one
   * has read the other's messages), all or those among `userIds`. An unsolicited message alone
   * makes no partner.
   */
  async establishedPartners(userId: number, userIds?: number[]): Promise<{ id: number; username: string; usernameKey: string }[]> {
    if (userIds?.length === 0) return [];
    let query = this.db
      .selectFrom('conversation_members as me')
      .innerJoin('conversation_members as other', (join) => join.onRef('other.conversation_id', '=', 'me.conversation_id').onRef('other.member_key', '<>', 'me.member_key'))
      .innerJoin('users as u', 'u.id', 'other.user_id')
      .select(['u.id as id', 'u.username as username', 'u.username_key as usernameKey'])
      .where('me.user_id', '=', userId)
      .where('other.user_id', '<>', userId)
      .where((eb) =>
        eb.or([eb.and([eb('me.has_sent', '=', 1), eb('other.has_sent', '=', 1)]), eb('me.read_up_to', '>', 0), eb('other.read_up_to', '>', 0)]),
      );
    if (userIds) query = query.where('other.user_id', 'in', userIds);
    const rows = await query.execute();
    return rows.map((row) => ({ ...row, id: Number(row.id) }));
  }
}

function memberRow(id: ConversationId, member: Member, now: number): MemberRow {
  return {
    conversation_id: id,
    member_key: memberKey(member),
    user_id: member.kind === 'local' ? member.userId : null,
    server: member.kind === 'remote' ? member.server : null,
    name: nameOf(member),
    address: addressOf(member),
    role: 'member',
    joined_at: now,
    read_up_to: 0,
    unread: 0,
    last_message_id: null,
    has_sent: 0,
  };
}

const returningIds: InsertFinish<'conversations', { id: number; direct_key: string | null }> = (insert) => insert.returning(['id', 'direct_key']);

/** A member's row takes the newest message and adds the unread ones. */
const addToMember: InsertFinish<'conversation_members', InsertResult> = (insert) =>
  insert.onConflict((conflict) =>
    conflict.columns(['conversation_id', 'member_key']).doUpdateSet((eb) => ({
      last_message_id: eb.ref('excluded.last_message_id'),
      unread: eb('conversation_members.unread', '+', eb.ref('excluded.unread')),
      has_sent: sql<number>`case when excluded.has_sent = 1 then 1 else conversation_members.has_sent end`,
    })),
  );
