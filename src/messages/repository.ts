// All SQL of the messages table. A direct message is read as a record of its conversation: the
// other member is its receiver, its delivery to a peer gives its status and the receiver's read
// marker its read time (read through joins; those tables have their own owners); a group message
// has no receiver and no read time, and names its group. Also the SQL
// of the keys at rest: sealed texts not under the current key, read in key order and replaced
// only where they have not changed since they were read (rotation), and the start-up sample.
import { sql, type Expression, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { DatabaseKind } from '../db/database.js';
import { insertRows } from '../db/insert-rows.js';
import { paddedList } from '../db/query-shapes.js';
import type { MessagesTable, Tables } from '../db/schema.js';
import type { ConversationId } from '../conversations/members.js';
import { groupPlace, isUnorderedPost, UNORDERED, type GroupPlace } from '../conversations/group-order.js';

export type MessageRow = Selectable<MessagesTable>;

/** A message with what clients see of it beyond its own row. */
export interface MessageRecord extends MessageRow {
  /** The other member's address (the sender's, in a conversation with oneself); null in a group. */
  receiver: string | null;
  receiver_user_id: number | null;
  receiver_key: string | null;
  /** The receiver's peer; null for a local receiver (and in a group). */
  receiver_server: string | null;
  receiver_name: string | null;
  /** The group's id (uuid) of a group message; null for a direct one. */
  group: string | null;
  status: 'delivered' | 'queued' | 'failed';
  read_at: number | null;
}

type Executor = Kysely<Tables> | Transaction<Tables>;

export class MessagesRepository {
  constructor(
    private readonly db: Kysely<Tables>,
    private readonly kind: DatabaseKind,
  ) {}

  /** Inserts messages whose ids were reserved (their bodies are sealed with them). */
  async insert(rows: MessageRow[], trx: Transaction<Tables>): Promise<void> {
    if (rows.length > 0) await insertRows(trx, this.kind, 'messages', rows);
  }

  async findById(id: number, trx: Executor = this.db): Promise<MessageRecord | undefined> {
    return (await this.findByIds([id], trx))[0];
  }

  async findByIds(ids: number[], trx: Executor = this.db): Promise<MessageRecord[]> {
    if (ids.length === 0) return [];
    return this.records(trx).where('m.id', 'in', paddedList(ids)).orderBy('m.id').execute();
  }

  /** Messages of these senders stored under these client ids. */
  async findByClientIds(senderUserIds: number[], clientIds: string[], trx: Executor = this.db): Promise<MessageRecord[]> {
    if (clientIds.length === 0) return [];
    return this.records(trx).where('m.client_id', 'in', paddedList(clientIds)).where('m.sender_user_id', 'in', paddedList(senderUserIds)).execute();
  }

  /** Messages stored under the id they travelled with (a peer's id is unique only for that peer). */
  async findByUuid(uuid: string): Promise<MessageRecord[]> {
    return this.records(this.db).where('m.uuid', '=', uuid).execute();
  }

  /** One conversation, newest first, from just below `beforeId`. */
  async history(id: ConversationId, beforeId: number | undefined, limit: number): Promise<MessageRecord[]> {
    let query = this.records(this.db).where('m.conversation_id', '=', id);
    if (beforeId !== undefined) query = query.where('m.id', '<', beforeId);
    return query.orderBy('m.id', 'desc').limit(limit).execute();
  }

  /**
   * A group's messages in its home's order, newest first, from just below `before`: the posts
   * the home has not ordered yet (position null) come first, then the ordered ones by position.
   * A post deleted before the home ordered it never gets a place (it was withdrawn, or the home
   * sends no deleted message): it is left out rather than kept first for good.
   * Two reads, each along an index of its own: the unordered posts', then the (conversation, position) one.
   */
  async groupHistory(id: ConversationId, before: { id: number; position: number | null } | undefined, limit: number): Promise<MessageRecord[]> {
    let unordered: MessageRecord[] = [];
    if (before === undefined || before.position === null) {
      // Both conditions of the unordered posts' partial index (0012), which the planner needs spelled out.
      let query = this.records(this.db).where('m.conversation_id', '=', id).where('m.position', 'is', null).where('m.sent_to', 'is', null).where('m.deleted', '=', 0);
      if (before !== undefined) query = query.where('m.id', '<', before.id);
      unordered = await query.orderBy('m.id', 'desc').limit(limit).execute();
    }
    if (unordered.length >= limit) return unordered;
    let query = this.records(this.db).where('m.conversation_id', '=', id).where('m.position', 'is not', null);
    if (before?.position != null) query = query.where((eb) => eb.or([eb('m.position', '<', before.position), eb.and([eb('m.position', '=', before.position), eb('m.id', '<', before.id)])]));
    const ordered = await query.orderBy('m.position', 'desc').orderBy('m.id', 'desc').limit(limit - unordered.length).execute();
    return [...unordered, ...ordered];
  }

  /** The message of the conversation stored under this uuid (a group's messages travel under theirs). */
  async findInConversation(id: ConversationId, uuid: string, trx: Executor = this.db): Promise<MessageRecord | undefined> {
    return this.records(trx).where('m.uuid', '=', uuid).where('m.conversation_id', '=', id).executeTakeFirst();
  }

  /** A group's messages that are not deleted, in its home's order, as a backend that joins late needs them. */
  async groupBackfill(id: ConversationId, trx: Transaction<Tables>): Promise<Pick<MessageRow, 'id' | 'uuid' | 'sender' | 'sender_user_id' | 'created_at' | 'edited_at' | 'position'>[]> {
    return trx
      .selectFrom('messages')
      .select(['id', 'uuid', 'sender', 'sender_user_id', 'created_at', 'edited_at', 'position'])
      .where('conversation_id', '=', id)
      .where('deleted', '=', 0)
      .orderBy('position')
      .orderBy('id')
      .execute();
  }

  /** Gives a message its place in its group's order (the home ordered it). */
  async setPosition(id: number, position: number, trx: Transaction<Tables>): Promise<void> {
    await trx.updateTable('messages').set({ position }).where('id', '=', id).execute();
  }

  /**
   * The messages of the user's conversations after `afterId`, oldest first: only conversations
   * whose last message is past it are read, each along its (conversation, id) index, and in each
   * only what came after the user joined (`feed_from`).
   */
  async ofMemberAfter(userId: number, afterId: number, limit: number, trx: Executor = this.db): Promise<MessageRecord[]> {
    return this.records(trx)
      .innerJoin('conversation_members as me', (join) => join.onRef('me.conversation_id', '=', 'm.conversation_id').on('me.user_id', '=', userId))
      .where('me.last_message_id', '>', afterId)
      // One bound, so that each conversation's index is entered at the cursor: with two, SQLite
      // seeks by `feed_from` (0 for a first member) and reads the conversation from its start.
      .where('m.id', '>', this.kind === 'sqlite' ? sql<number>`max(${afterId}, me.feed_from)` : sql<number>`greatest(${afterId}, me.feed_from)`)
      .orderBy('m.id')
      .limit(limit)
      .execute();
  }

  /**
   * How many messages of the conversation lie in (afterId, upToId], those sent by `otherThan`
   * aside: all of them, and those not deleted (a deleted one no longer counts as unread).
   */
  async countReceived(id: ConversationId, otherThan: string | null, afterId: number, upToId: number, trx: Transaction<Tables>): Promise<{ passed: number; unread: number }> {
    let query = trx
      .selectFrom('messages')
      .select((eb) => [eb.fn.countAll<number>().as('passed'), sql<number | null>`sum(case when deleted = 0 then 1 else 0 end)`.as('unread')])
      .where('conversation_id', '=', id)
      .where('id', '>', afterId)
      .where('id', '<=', upToId);
    if (otherThan !== null) query = query.where('sender_key', '<>', otherThan);
    const row = await query.executeTakeFirstOrThrow();
    return { passed: Number(row.passed), unread: Number(row.unread ?? 0) };
  }

  /** Where a group's message stands in the group's order, if it is there. */
  async placeInGroup(messageId: number, trx: Transaction<Tables>): Promise<GroupPlace | undefined> {
    const row = await trx.selectFrom('messages').select(['id', 'position']).where('id', '=', messageId).executeTakeFirst();
    return row && groupPlace(row);
  }

  /** The places in their conversation's order of these messages, by id. */
  async placesOf(ids: number[], trx: Transaction<Tables>): Promise<Map<number, GroupPlace>> {
    if (ids.length === 0) return new Map();
    const rows = await trx.selectFrom('messages').select(['id', 'position']).where('id', 'in', ids).execute();
    return new Map(rows.map((row) => [Number(row.id), groupPlace(row)]));
  }

  /**
   * How many messages of the group not deleted lie after `from` and up to `upTo` in its order,
   * those sent by `otherThan` aside. Ordered messages and the posts the home has not ordered yet
   * are counted apart, each along its own index between the two places: one expression over
   * both could seek neither, and read the group's whole history on every read marker.
   */
  async countReceivedInGroup(id: ConversationId, otherThan: string, from: GroupPlace, upTo: GroupPlace, trx: Transaction<Tables>): Promise<number> {
    const counted = trx
      .selectFrom('messages')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .where('conversation_id', '=', id)
      .where('sender_key', '<>', otherThan)
      .where('deleted', '=', 0);
    let count = 0;
    if (from.order !== UNORDERED) {
      let ordered = counted
        .where('position', 'is not', null)
        .where('position', '>=', from.order)
        .where(sql<boolean>`(position, id) > (${from.order}, ${from.id})`);
      if (upTo.order !== UNORDERED) ordered = ordered.where('position', '<=', upTo.order).where(sql<boolean>`(position, id) <= (${upTo.order}, ${upTo.id})`);
      count += Number((await ordered.executeTakeFirstOrThrow()).count);
    }
    if (upTo.order === UNORDERED) {
      const unordered = counted
        .where(isUnorderedPost)
        .where('id', '>', from.order === UNORDERED ? from.id : 0)
        .where('id', '<=', upTo.id);
      count += Number((await unordered.executeTakeFirstOrThrow()).count);
    }
    return count;
  }

  /** Erases the texts of a conversation's messages, then deletes them (a group whose last member left). */
  async deleteConversation(id: ConversationId, trx: Transaction<Tables>): Promise<void> {
    await trx.updateTable('messages').set({ body: '', deleted: 1 }).where('conversation_id', '=', id).execute();
    await trx.deleteFrom('messages').where('conversation_id', '=', id).execute();
  }

  /** Edits (a new sealed body) or erases a message that is not deleted; false when it was. */
  async change(id: number, set: { body: string; editedAt?: number; deleted?: true }, trx: Transaction<Tables>): Promise<boolean> {
    const updated = await trx
      .updateTable('messages')
      .set({ body: set.body, ...(set.editedAt !== undefined ? { edited_at: set.editedAt } : {}), ...(set.deleted ? { deleted: 1 } : {}) })
      .where('id', '=', id)
      .where('deleted', '=', 0)
      .executeTakeFirst();
    return Number(updated.numUpdatedRows) === 1;
  }

  /** The oldest and the newest stored texts (erased ones aside): a cheap sample of the keys in use. */
  async oldestAndNewestSealed(): Promise<{ id: number; body: string }[]> {
    const [oldest, newest] = await Promise.all(
      (['asc', 'desc'] as const).map((direction) =>
        this.db.selectFrom('messages').select(['id', 'body']).where('body', '!=', '').orderBy('id', direction).limit(1).executeTakeFirst(),
      ),
    );
    return [oldest, newest].filter((row) => row !== undefined);
  }

  /** How many stored texts are not sealed with the given key id (erased ones do not count). */
  async countSealedWithOtherKeys(currentKeyPrefix: string): Promise<number> {
    const row = await this.db
      .selectFrom('messages')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .where('body', '!=', '')
      .where('body', 'not like', `${currentKeyPrefix}%`)
      .executeTakeFirstOrThrow();
    return Number(row.count);
  }

  async sealedWithOtherKeys(currentKeyPrefix: string, afterId: number, limit: number): Promise<{ id: number; body: string }[]> {
    return this.db
      .selectFrom('messages')
      .select(['id', 'body'])
      .where('id', '>', afterId)
      .where('body', '!=', '')
      .where('body', 'not like', `${currentKeyPrefix}%`)
      .orderBy('id')
      .limit(limit)
      .execute();
  }

  /** Replaces bodies that have not changed since they were read; returns how many were replaced. */
  async replaceBodies(changes: { id: number; from: string; to: string }[]): Promise<number> {
    return this.db.transaction().execute(async (trx) => {
      let replaced = 0;
      for (const change of changes) {
        const result = await trx.updateTable('messages').set({ body: change.to }).where('id', '=', change.id).where('body', '=', change.from).executeTakeFirst();
        replaced += Number(result.numUpdatedRows);
      }
      return replaced;
    });
  }

  /** Messages with their direct conversation's other member, delivery and read marker, or their group. */
  private records(db: Executor) {
    return db
      .selectFrom('messages as m')
      .innerJoin('conversations as c', 'c.id', 'm.conversation_id')
      // A direct conversation's other member; for a group's message the key to look up is null,
      // so that its thousand members are not even visited.
      .leftJoin('conversation_members as r', (join) =>
        join
          .on((eb) => eb('r.conversation_id', '=', eb.case().when('c.kind', '=', 'direct').then(eb.ref('m.conversation_id')).end()))
          .onRef('r.member_key', '<>', 'm.sender_key'),
      )
      .leftJoin('message_deliveries as d', 'd.message_id', 'm.id')
      .selectAll('m')
      .select((eb) => {
        const direct = <T>(value: Expression<T>) => eb.case().when('c.kind', '=', 'direct').then(value).end();
        return [
          direct(eb.fn.coalesce('m.sent_to', 'r.address', 'm.sender')).as('receiver'),
          // The sender stands in only in a conversation with oneself (no other member): a remote
          // receiver has no user id, and the sender is not its receiver.
          direct(eb.case().when('r.member_key', 'is', null).then(eb.ref('m.sender_user_id')).else(eb.ref('r.user_id')).end()).as('receiver_user_id'),
          direct(eb.fn.coalesce('r.member_key', 'm.sender_key')).as('receiver_key'),
          'r.server as receiver_server',
          direct(eb.fn.coalesce('r.name', 'm.sender')).as('receiver_name'),
          eb.case().when('c.kind', '=', 'group').then(eb.ref('c.uuid')).end().as('group'),
          eb.fn.coalesce('d.status', eb.val('delivered' as const)).as('status'),
          direct(
            eb
              .selectFrom('read_markers as k')
              .select('k.read_at')
              .whereRef('k.conversation_id', '=', 'm.conversation_id')
              .where((inner) => inner('k.member_key', '=', inner.fn.coalesce('r.member_key', 'm.sender_key')))
              .whereRef('k.up_to', '>=', 'm.id')
              .orderBy('k.up_to')
              .limit(1),
          ).as('read_at'),
        ];
      })
      .$castTo<MessageRecord>();
  }
}
