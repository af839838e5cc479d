// Reading groups (read-only SQL over the tables conversations/repository.ts writes): a group as
// one of its members sees it, the groups a user is in, and who shares a group with a user.
import type { Kysely, Transaction } from 'kysely';
import type { Tables } from '../db/schema.js';
import { conversationId, type ConversationId } from './members.js';
import type { GroupRole } from './repository.js';

type Executor = Kysely<Tables> | Transaction<Tables>;

/** A group as stored (its name is the conversation's title; `home` null is this backend). */
export interface GroupRecord {
  id: ConversationId;
  uuid: string;
  name: string;
  home: string | null;
  createdAt: number;
  version: number;
}

/** A group seen by one of its members: the group, the member's key and role. */
export interface GroupMembership extends GroupRecord {
  memberKey: string;
  role: GroupRole;
}

const GROUP_COLUMNS = ['c.id as id', 'c.uuid as uuid', 'c.title as name', 'c.home as home', 'c.created_at as createdAt', 'c.version as version'] as const;

/** A group as its columns (GROUP_COLUMNS) read it: a missing name reads as '' (groups always have one). */
function groupOf(row: { id: number; uuid: string; name: string | null; home: string | null; createdAt: number; version: number }): GroupRecord {
  return { id: conversationId(Number(row.id)), uuid: row.uuid, name: row.name ?? '', home: row.home, createdAt: Number(row.createdAt), version: Number(row.version) };
}

export class GroupQueries {
  constructor(private readonly db: Kysely<Tables>) {}

  /** A group by its id, with the user's own row when they are a member (else undefined). */
  async findGroup(uuid: string, userId: number, trx: Executor = this.db): Promise<GroupMembership | undefined> {
    return this.findMembership(uuid, 'me.user_id', userId, trx);
  }

  /** A group by its id, with the row of the member under this key when there is one (a peer's user too). */
  async findGroupForMember(uuid: string, memberKey: string, trx: Executor = this.db): Promise<GroupMembership | undefined> {
    return this.findMembership(uuid, 'me.member_key', memberKey, trx);
  }

  private async findMembership(uuid: string, column: 'me.user_id' | 'me.member_key', value: number | string, trx: Executor): Promise<GroupMembership | undefined> {
    const row = await trx
      .selectFrom('conversations as c')
      .innerJoin('conversation_members as me', 'me.conversation_id', 'c.id')
      .select([...GROUP_COLUMNS, 'me.member_key as memberKey', 'me.role as role'])
      .where('c.uuid', '=', uuid)
      .where('c.kind', '=', 'group')
      .where(column, '=', value)
      .executeTakeFirst();
    return row && { ...groupOf(row), memberKey: row.memberKey, role: row.role };
  }

  /** A group by its id, whoever its members are. */
  async findByUuid(uuid: string, trx: Executor = this.db): Promise<GroupRecord | undefined> {
    const row = await trx.selectFrom('conversations as c').select(GROUP_COLUMNS).where('c.uuid', '=', uuid).where('c.kind', '=', 'group').executeTakeFirst();
    return row && groupOf(row);
  }

  /** Groups by their ids (any that still exist). */
  async findById(ids: ConversationId[], trx: Executor = this.db): Promise<GroupRecord[]> {
    if (ids.length === 0) return [];
    const rows = await trx.selectFrom('conversations as c').select(GROUP_COLUMNS).where('c.id', 'in', ids).where('c.kind', '=', 'group').execute();
    return rows.map(groupOf);
  }

  /** The groups the user is a member of, newest first, with their sizes. */
  async groupsOf(userId: number): Promise<(GroupRecord & { membersCount: number })[]> {
    const rows = await this.db
      .selectFrom('conversations as c')
      .innerJoin('conversation_members as me', 'me.conversation_id', 'c.id')
      .select((eb) => [
        ...GROUP_COLUMNS,
        eb.selectFrom('conversation_members as g').select((inner) => inner.fn.countAll<number>().as('count')).whereRef('g.conversation_id', '=', 'c.id').as('membersCount'),
      ])
      .where('me.user_id', '=', userId)
      .where('c.kind', '=', 'group')
      .orderBy('c.id', 'desc')
      .execute();
    return rows.map((row) => ({ ...groupOf(row), membersCount: Number(row.membersCount) }));
  }

  /** The ids of the groups the user is a member of. */
  async groupIdsOf(userId: number): Promise<string[]> {
    const rows = await this.db
      .selectFrom('conversation_members as me')
      .innerJoin('conversations as c', 'c.id', 'me.conversation_id')
      .select('c.uuid as uuid')
      .where('me.user_id', '=', userId)
      .where('c.kind', '=', 'group')
      .execute();
    return rows.map((row) => row.uuid);
  }

  /** A group's local members now, by the group's id (none for an id that names no group). */
  async localMembers(uuid: string): Promise<{ id: number; username: string }[]> {
    const rows = await this.db
      .selectFrom('conversations as c')
      .innerJoin('conversation_members as m', 'm.conversation_id', 'c.id')
      .innerJoin('users as u', 'u.id', 'm.user_id')
      .select(['u.id as id', 'u.username as username'])
      .where('c.uuid', '=', uuid)
      .where('c.kind', '=', 'group')
      .execute();
    return rows.map((row) => ({ id: Number(row.id), username: row.username }));
  }

  /** Local users who share a group with the user (all, or those among `userIds`): they see each other's presence. */
  async groupCoMembers(userId: number, userIds?: number[]): Promise<{ id: number; username: string }[]> {
    if (userIds?.length === 0) return [];
    let query = this.db
      .selectFrom('conversation_members as me')
      .innerJoin('conversations as c', (join) => join.onRef('c.id', '=', 'me.conversation_id').on('c.kind', '=', 'group'))
      .innerJoin('conversation_members as other', 'other.conversation_id', 'me.conversation_id')
      .innerJoin('users as u', 'u.id', 'other.user_id')
      .select(['u.id as id', 'u.username as username'])
      .distinct()
      .where('me.user_id', '=', userId)
      .where('other.user_id', '<>', userId);
    if (userIds) query = query.where('other.user_id', 'in', userIds);
    const rows = await query.execute();
    return rows.map((row) => ({ id: Number(row.id), username: row.username }));
  }

}
