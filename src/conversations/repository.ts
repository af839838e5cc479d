// All SQL that writes conversations, their members and read markers: finding and creating direct
// conversations and groups, a group's membership (add, remove, roles, name; each moves its
// version on), moving each local member's row (last message, unread count) as messages are
// written, read positions; and the conversations list and the audiences of presence and typing.
import { sql, type InsertResult, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { DatabaseKind } from '../db/database.js';
import { insertRows, type InsertFinish } from '../db/insert-rows.js';
import { paddedList } from '../db/query-shapes.js';
import type { ConversationMembersTable, Tables } from '../db/schema.js';
import { isUnorderedPost, placeSql } from './group-order.js';
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
  /** The other member's address (one's own, in a conversation with oneself); null for a group. */
  partner: string | null;
  /** A group's id, name and size; null for a direct conversation. */
  group: { uuid: string; name: string; membersCount: number } | null;
  unread: number;
  lastMessageId: number;
}

export type GroupRole = 'owner' | 'admin' | 'member';

/** A member of a group homed elsewhere, as its home lists them. */
export interface CopyMember {
  member: Member;
  role: GroupRole;
  joinedAt: number;
}

/** A copy of a group homed on another backend, as its home's `group_state` has it. */
export interface GroupCopy {
  uuid: string;
  name: string;
  home: string;
  version: number;
  createdAt: number;
  members: CopyMember[];
}

/** A new group's members, the creator (its owner) first. */
export interface NewGroup {
  uuid: string;
  name: string;
  members: { member: Member; role: GroupRole }[];
}

export class ConversationsRepository {
  constructor(
    private readonly db: Kysely<Tables>,
    private readonly kind: DatabaseKind,
  ) {}

  /** The ids of the direct conversations that exist among these keys. */
  async findDirect(directKeys: string[], trx: Executor = this.db): Promise<Map<string, ConversationId>> {
    if (directKeys.length === 0) return new Map();
    const rows = await trx.selectFrom('conversations').select(['id', 'direct_key']).where('direct_key', 'in', paddedList(directKeys)).execute();
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

  /** The conversation's members, longest-standing first (members who joined together by address). */
  async members(id: ConversationId, trx: Executor = this.db): Promise<MemberRow[]> {
    return trx.selectFrom('conversation_members').selectAll().where('conversation_id', '=', id).orderBy('joined_at').orderBy('address').execute();
  }

  /** Who is a member now, by key, with the user of each local one: a group message's audience, read in its transaction. */
  async memberKeys(id: ConversationId, trx: Executor = this.db): Promise<{ memberKey: string; userId: number | null; server: string | null }[]> {
    const rows = await trx.selectFrom('conversation_members').select(['member_key', 'user_id', 'server']).where('conversation_id', '=', id).execute();
    return rows.map((row) => ({ memberKey: row.member_key, userId: row.user_id === null ? null : Number(row.user_id), server: row.server }));
  }

  /** Creates a group, version 1, with its members; answers its id. */
  async createGroup(group: NewGroup, now: number, trx: Transaction<Tables>): Promise<ConversationId> {
    const { rows } = await insertRows(
      trx,
      this.kind,
      'conversations',
      [{ uuid: group.uuid, kind: 'group' as const, direct_key: null, home: null, title: group.name, created_at: now, version: 1 }],
      returningIds,
    );
    const id = conversationId(Number(rows[0]!.id));
    await insertRows(
      trx,
      this.kind,
      'conversation_members',
      group.members.map(({ member, role }) => memberRow(id, member, now, role)),
    );
    return id;
  }

  /** Creates the copy of a group homed elsewhere, with its members; undefined when its id is taken by another conversation. */
  async createGroupCopy(copy: GroupCopy, trx: Transaction<Tables>): Promise<ConversationId | undefined> {
    const row = await trx
      .insertInto('conversations')
      .values({ uuid: copy.uuid, kind: 'group', direct_key: null, home: copy.home, title: copy.name, created_at: copy.createdAt, version: copy.version })
      .onConflict((conflict) => conflict.column('uuid').doNothing())
      .returning('id')
      .executeTakeFirst();
    if (!row) return undefined;
    const id = conversationId(Number(row.id));
    await insertRows(
      trx,
      this.kind,
      'conversation_members',
      copy.members.map(({ member, role, joinedAt }) => memberRow(id, member, joinedAt, role)),
    );
    return id;
  }

  /** A copy takes its home's name and version (after its members changed: the home's version is the one that counts). */
  async setCopyState(id: ConversationId, state: { name: string; version: number }, trx: Transaction<Tables>): Promise<void> {
    await trx.updateTable('conversations').set({ title: state.name, version: state.version }).where('id', '=', id).execute();
  }

  /**
   * Adds a member to a group from the last message its home has ordered on: what came before is
   * neither unread nor news in their feed for them, though they may read it. A copy's posts the
   * home has not ordered yet (it could not be reached) will be placed after the member joined:
   * they are unread. False when they already are one.
   */
  async addMember(id: ConversationId, member: Member, joinedAt: number, trx: Transaction<Tables>, role: GroupRole = 'member'): Promise<boolean> {
    const ordered = await trx.selectFrom('messages').select('id').where('conversation_id', '=', id).where('position', 'is not', null).orderBy('position', 'desc').limit(1).executeTakeFirst();
    const startAt = ordered === undefined ? null : Number(ordered.id);
    const latest = await trx
      .selectFrom('conversation_members')
      .select((eb) => eb.fn.max('last_message_id').as('id'))
      .where('conversation_id', '=', id)
      .executeTakeFirst();
    const waiting = await trx
      .selectFrom('messages')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .where('conversation_id', '=', id)
      .where(isUnorderedPost)
      .where('deleted', '=', 0)
      .executeTakeFirstOrThrow();
    const result = await trx
      .insertInto('conversation_members')
      .values({ ...memberRow(id, member, joinedAt, role), read_up_to: startAt ?? 0, last_message_id: latest?.id == null ? null : Number(latest.id), feed_from: startAt ?? 0, unread: member.kind === 'local' ? Number(waiting.count) : 0 })
      .onConflict((conflict) => conflict.columns(['conversation_id', 'member_key']).doNothing())
      .executeTakeFirst();
    const added = Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
    if (added) await this.nextVersion(id, trx);
    return added;
  }

  async setRole(id: ConversationId, key: string, role: GroupRole, trx: Transaction<Tables>): Promise<void> {
    await trx.updateTable('conversation_members').set({ role }).where('conversation_id', '=', id).where('member_key', '=', key).execute();
    await this.nextVersion(id, trx);
  }

  async removeMember(id: ConversationId, key: string, trx: Transaction<Tables>): Promise<void> {
    await trx.deleteFrom('conversation_members').where('conversation_id', '=', id).where('member_key', '=', key).execute();
    await this.nextVersion(id, trx);
  }

  async rename(id: ConversationId, name: string, trx: Transaction<Tables>): Promise<void> {
    await trx.updateTable('conversations').set({ title: name }).where('id', '=', id).execute();
    await this.nextVersion(id, trx);
  }

  /** Deletes a group and what hangs off it (its messages are their owner's to erase first). */
  async deleteGroup(id: ConversationId, trx: Transaction<Tables>): Promise<void> {
    await trx.deleteFrom('conversations').where('id', '=', id).where('kind', '=', 'group').execute();
  }

  /**
   * Moves every local member's row of a group to its new messages in one statement: the last
   * message, and one more unread for each message another member sent. `placed` are the new
   * messages the home ordered (on a member's backend): one the home placed before a member's
   * read position (ahead of a post of this backend it has not ordered yet) was read past, and
   * is not unread for that member.
   */
  async touchGroup(id: ConversationId, lastMessageId: number, sentBy: Map<string, number>, count: number, placed: number[], trx: Transaction<Tables>): Promise<void> {
    const senders = [...sentBy.keys()];
    const own = senders.length === 0 ? sql<number>`0` : sql<number>`case ${sql.join(senders.map((key) => sql`when member_key = ${key} then ${sentBy.get(key)!}`), sql` `)} else 0 end`;
    const readPast =
      placed.length === 0
        ? sql<number>`0`
        : sql<number>`(select count(*) from messages as placed, messages as marker
            where placed.id in (${sql.join(paddedList(placed))}) and marker.id = conversation_members.read_up_to
            and placed.sender_key <> conversation_members.member_key and ${placeSql('placed')} < ${placeSql('marker')})`;
    await trx
      .updateTable('conversation_members')
      .set({
        last_message_id: lastMessageId,
        unread: sql<number>`unread + ${count} - ${own} - ${readPast}`,
        ...(senders.length > 0 ? { has_sent: sql<number>`case when member_key in (${sql.join(senders)}) then 1 else has_sent end` } : {}),
      })
      .where('conversation_id', '=', id)
      .where('user_id', 'is not', null)
      .execute();
  }

  private async nextVersion(id: ConversationId, trx: Transaction<Tables>): Promise<void> {
    await trx
      .updateTable('conversations')
      .set((eb) => ({ version: eb('version', '+', 1) }))
      .where('id', '=', id)
      .execute();
  }

  /** The user's conversations that have a message, most recent first. */
  async list(userId: number, beforeMessageId: number | undefined, limit: number): Promise<ConversationListRow[]> {
    let query = this.db
      .selectFrom('conversation_members as me')
      .innerJoin('conversations as c', 'c.id', 'me.conversation_id')
      // The partner of a direct conversation; for a group the key to look up is null, so that its members are not visited.
      .leftJoin('conversation_members as other', (join) =>
        join
          .on((eb) => eb('other.conversation_id', '=', eb.case().when('c.kind', '=', 'direct').then(eb.ref('me.conversation_id')).end()))
          .onRef('other.member_key', '<>', 'me.member_key'),
      )
      .select((eb) => [
        'me.conversation_id as conversationId',
        'me.unread as unread',
        'me.last_message_id as lastMessageId',
        'c.kind as kind',
        'c.uuid as uuid',
        'c.title as title',
        eb.fn.coalesce('other.address', 'me.address').as('partner'),
        eb
          .case()
          .when('c.kind', '=', 'group')
          .then(eb.selectFrom('conversation_members as g').select((inner) => inner.fn.countAll<number>().as('count')).whereRef('g.conversation_id', '=', 'me.conversation_id'))
          .end()
          .as('membersCount'),
      ])
      .where('me.user_id', '=', userId)
      .where('me.last_message_id', 'is not', null);
    if (beforeMessageId !== undefined) query = query.where('me.last_message_id', '<', beforeMessageId);
    const rows = await query.orderBy('me.last_message_id', 'desc').limit(limit).execute();
    return rows.map((row) => ({
      conversationId: conversationId(Number(row.conversationId)),
      partner: row.kind === 'group' ? null : row.partner,
      group: row.kind === 'group' ? { uuid: row.uuid, name: row.title ?? '', membersCount: Number(row.membersCount) } : null,
      unread: Number(row.unread),
      lastMessageId: Number(row.lastMessageId),
    }));
  }

  /** One unread message fewer for these members (a message they had not read was deleted). */
  async forgetUnread(id: ConversationId, keys: string[], trx: Transaction<Tables>): Promise<void> {
    if (keys.length === 0) return;
    await trx
      .updateTable('conversation_members')
      .set({ unread: sql<number>`case when unread > 0 then unread - 1 else 0 end` })
      .where('conversation_id', '=', id)
      .where('member_key', 'in', keys)
      .execute();
  }

  /**
   * Moves a member's read position forward to `upTo`, over `marked` unread messages, with a
   * marker holding the time (what each message's read_at reads) unless `withTime` is false (a
   * group's messages have no read_at: read state is per member).
   */
  async markRead(id: ConversationId, key: string, upTo: number, marked: number, now: number, trx: Transaction<Tables>, withTime = true): Promise<void> {
    await trx
      .updateTable('conversation_members')
      .set({ read_up_to: upTo, unread: sql<number>`case when unread > ${marked} then unread - ${marked} else 0 end` })
      .where('conversation_id', '=', id)
      .where('member_key', '=', key)
      .execute();
    if (withTime) await trx.insertInto('read_markers').values({ conversation_id: id, member_key: key, up_to: upTo, read_at: now }).execute();
  }

  /**
   * Whether a direct conversation is established, as `establishedPartners` counts it: both have
   * written, or one has read the other's messages. A peer's user has no sent flag here (only
   * local members' rows are touched): a message from them in the conversation counts instead.
   */
  async isEstablished(id: ConversationId): Promise<boolean> {
    const rows = await this.db
      .selectFrom('conversation_members as m')
      .select((eb) => [
        'm.has_sent',
        'm.read_up_to',
        'm.user_id',
        eb
          .exists(eb.selectFrom('messages').select('messages.id').whereRef('messages.conversation_id', '=', 'm.conversation_id').where('messages.sender_user_id', 'is', null))
          .as('peerSent'),
      ])
      .where('m.conversation_id', '=', id)
      .execute();
    const sent = (row: (typeof rows)[number]) => (row.user_id === null ? Boolean(Number(row.peerSent)) : Number(row.has_sent) === 1);
    return (rows.length === 2 && rows.every(sent)) || rows.some((row) => Number(row.read_up_to) > 0);
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
      .innerJoin('conversations as c', (join) => join.onRef('c.id', '=', 'me.conversation_id').on('c.kind', '=', 'direct'))
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

function memberRow(id: ConversationId, member: Member, now: number, role: GroupRole = 'member'): MemberRow {
  return {
    conversation_id: id,
    member_key: memberKey(member),
    user_id: member.kind === 'local' ? member.userId : null,
    server: member.kind === 'remote' ? member.server : null,
    name: nameOf(member),
    address: addressOf(member),
    role,
    joined_at: now,
    read_up_to: 0,
    unread: 0,
    last_message_id: null,
    has_sent: 0,
    feed_from: 0,
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
