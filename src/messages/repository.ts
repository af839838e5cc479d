// All SQL for messages and conversation summaries. A message is written together with what
// depends on it, in one transaction: the summaries of both sides, the outbox entry that will
// carry it to a peer, and the receipt that makes an inbound delivery exactly-once.
import { sql, type InsertQueryBuilder, type InsertResult, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { DatabaseKind } from '../db/database.js';
import { reserveIds } from '../db/ids.js';
import { insertRows, type InsertFinish } from '../db/insert-rows.js';
import type { MessagesTable, Tables } from '../db/schema.js';
import { lockChanges, recordChanges, type Change, type Recorded } from '../feed/event-log.js';
import { WAITING_BEHIND_EARLIER } from '../federation/outbox/repository.js';

export type MessageRow = Selectable<MessagesTable>;
export type MessageStatus = MessageRow['status'];

export interface ConversationTouch {
  userId: number;
  partnerKey: string;
  partner: string;
  unread: boolean;
}

export interface NewMessage {
  uuid: string;
  pair: string;
  senderUserId: number | null;
  receiverUserId: number | null;
  sender: string;
  receiver: string;
  peer: string | null;
  text: string;
  status: MessageStatus;
  clientId: string | null;
  conversations: ConversationTouch[];
  outbox?: { peer: string; receiverKey: string };
  receipt?: { peer: string; requestKey: string };
  /** Local users whose feed gets a `message` event for it. */
  notify: number[];
}

export type WriteResult =
  | { stored: true; row: MessageRow; outbox?: { entryId: number; claimed: boolean }; recorded: Recorded[] }
  /** Already stored. */
  | { stored: false; row: MessageRow };

/** A change of a stored message, written with its events (and its outbox entry, for a peer). */
export interface MessageChange {
  messageId: number;
  now: number;
  changes: Change[];
  /** The change travels to the peer the message went to, behind the message itself. */
  outbox?: { op: 'edit' | 'delete'; opId: string; peer: string; receiverKey: string };
  /** A change a peer delivered: applied once per request. */
  receipt?: { peer: string; requestKey: string };
}

export type ChangeResult = { applied: true; row: MessageRow; recorded: Recorded[] } | { applied: false; reason: 'deleted' | 'duplicate' };

export interface WriteOptions {
  now: number;
  /** Seals a text for its row, whose id is the associated data (ids are reserved before the insert). */
  seal(text: string, id: number): string;
  /** The lease on outbox entries that may be tried at once (no earlier entry for their receiver). */
  claim: { by: string; until: number };
}

export interface ConversationRow {
  partner: string;
  unread: number;
  message: MessageRow;
}

export class MessagesRepository {
  constructor(
    private readonly db: Kysely<Tables>,
    private readonly kind: DatabaseKind,
  ) {}

  async writeBatch(items: NewMessage[], options: WriteOptions): Promise<WriteResult[]> {
    return this.db.transaction().execute(async (trx) => {
      // PostgreSQL hands out ids before commit: without the lock a later id (or seq) could become
      // visible before an earlier one, and a client catching up with ?after= would skip it for good.
      await lockChanges(trx, this.kind);
      // First, so that on SQLite the transaction holds the write lock before it reads anything;
      // an id reserved for an item that turns out to be a repeat is simply never used.
      const ids = await reserveIds(trx, this.kind, 'messages', items.length);
      const results: WriteResult[] = new Array(items.length);
      const earlier = await this.findEarlierWrites(trx, items);
      const firstOf = new Map<string, number>();
      const fresh: number[] = [];
      const aliases: [number, number][] = [];
      items.forEach((item, index) => {
        const key = dedupeKey(item);
        const existing = key === undefined ? undefined : earlier.get(key);
        if (existing) results[index] = { stored: false, ...existing };
        else if (key !== undefined && firstOf.has(key)) aliases.push([index, firstOf.get(key)!]);
        else {
          if (key !== undefined) firstOf.set(key, index);
          fresh.push(index);
        }
      });
      if (fresh.length > 0) await this.insertFresh(trx, items, ids, fresh, results, options);
      for (const [index, first] of aliases) results[index] = { stored: false, row: results[first]!.row };
      return results;
    });
  }

  /** Messages already stored under a batch item's client id or federation receipt. */
  private async findEarlierWrites(trx: Transaction<Tables>, items: NewMessage[]): Promise<Map<string, { row: MessageRow }>> {
    const found = new Map<string, { row: MessageRow }>();
    const clientIds = items.filter((item) => item.clientId !== null && item.senderUserId !== null);
    if (clientIds.length > 0) {
      const rows = await trx
        .selectFrom('messages')
        .selectAll()
        .where('client_id', 'in', [...new Set(clientIds.map((item) => item.clientId!))])
        .where('sender_user_id', 'in', [...new Set(clientIds.map((item) => item.senderUserId!))])
        .execute();
      for (const row of rows) found.set(`c:${row.sender_user_id}:${row.client_id}`, { row });
    }
    const receipts = items.filter((item) => item.receipt);
    if (receipts.length > 0) {
      const rows = await trx
        .selectFrom('federation_receipts as r')
        .innerJoin('messages as m', 'm.id', 'r.message_id')
        .selectAll('m')
        .select(['r.peer as receipt_peer', 'r.request_key as receipt_key'])
        // Both columns of the primary key: with the request keys alone SQLite scans every receipt.
        .where('r.peer', 'in', [...new Set(receipts.map((item) => item.receipt!.peer))])
        .where('r.request_key', 'in', [...new Set(receipts.map((item) => item.receipt!.requestKey))])
        .execute();
      for (const { receipt_peer: peer, receipt_key: key, ...row } of rows) found.set(`r:${peer}:${key}`, { row });
    }
    return found;
  }

  private async insertFresh(trx: Transaction<Tables>, items: NewMessage[], ids: number[], fresh: number[], results: WriteResult[], options: WriteOptions): Promise<void> {
    const { now } = options;
    const rows: MessageRow[] = fresh.map((index) => {
      const item = items[index]!;
      const id = ids[index]!;
      return {
        id,
        uuid: item.uuid,
        pair: item.pair,
        sender_user_id: item.senderUserId,
        receiver_user_id: item.receiverUserId,
        sender: item.sender,
        receiver: item.receiver,
        peer: item.peer,
        body: options.seal(item.text, id),
        created_at: now,
        status: item.status,
        failure_code: null,
        client_id: item.clientId,
        read_at: null,
        edited_at: null,
        deleted: 0,
      };
    });
    await insertRows(trx, this.kind, 'messages', rows);

    await this.touchConversations(trx, fresh.map((index, n) => [items[index]!, rows[n]!]));
    const entries = await this.enqueue(trx, fresh.map((index, n) => [items[index]!, rows[n]!]), options);
    const receipts = fresh.flatMap((index, n) => {
      const receipt = items[index]!.receipt;
      return receipt ? [{ peer: receipt.peer, request_key: receipt.requestKey, message_id: rows[n]!.id, created_at: now }] : [];
    });
    if (receipts.length > 0) await insertRows(trx, this.kind, 'federation_receipts', receipts);
    const changes = fresh.flatMap((index, n) => items[index]!.notify.map((userId): Change => ({ userId, type: 'message', messageId: rows[n]!.id })));
    const recorded = await recordChanges(trx, this.kind, changes, now);

    let next = 0;
    fresh.forEach((index, n) => {
      const row = rows[n]!;
      const entry = entries.get(row.id);
      const mine = recorded.slice(next, (next += items[index]!.notify.length));
      results[index] = { stored: true, row, ...(entry ? { outbox: entry } : {}), recorded: mine };
    });
  }

  private async touchConversations(trx: Transaction<Tables>, written: [NewMessage, MessageRow][]): Promise<void> {
    // One row per (user, partner) per statement: PostgreSQL refuses to upsert a row twice in one.
    const touches = new Map<string, { user_id: number; partner_key: string; partner: string; last_message_id: number; unread: number }>();
    for (const [item, row] of written) {
      for (const touch of item.conversations) {
        const key = `${touch.userId}|${touch.partnerKey}`;
        const current = touches.get(key);
        const unread = (current?.unread ?? 0) + (touch.unread ? 1 : 0);
        touches.set(key, { user_id: touch.userId, partner_key: touch.partnerKey, partner: touch.partner, last_message_id: row.id, unread });
      }
    }
    if (touches.size === 0) return;
    await insertRows(trx, this.kind, 'conversations', [...touches.values()], addToConversation);
  }

  /** Adds outbox entries; the first one per receiver with nothing pending before it is claimed at once. */
  private async enqueue(trx: Transaction<Tables>, written: [NewMessage, MessageRow][], options: WriteOptions): Promise<Map<number, { entryId: number; claimed: boolean }>> {
    const remote = written.filter(([item]) => item.outbox);
    const entries = new Map<number, { entryId: number; claimed: boolean }>();
    if (remote.length === 0) return entries;
    const receivers = [...new Set(remote.map(([item]) => item.outbox!.receiverKey))];
    const pending = await trx.selectFrom('outbox').select('receiver_key').distinct().where('receiver_key', 'in', receivers).execute();
    const busy = new Set(pending.map((row) => row.receiver_key));
    const values = remote.map(([item, row]) => {
      const claimed = !busy.has(item.outbox!.receiverKey);
      busy.add(item.outbox!.receiverKey);
      return {
        message_id: row.id,
        peer: item.outbox!.peer,
        receiver_key: item.outbox!.receiverKey,
        attempts: 0,
        next_attempt_at: claimed ? options.now : WAITING_BEHIND_EARLIER,
        claimed_until: claimed ? options.claim.until : 0,
        claimed_by: claimed ? options.claim.by : null,
        last_error: null,
        created_at: options.now,
      };
    });
    const { rows: inserted } = await insertRows(trx, this.kind, 'outbox', values, returningEntries);
    for (const row of inserted) entries.set(Number(row.message_id), { entryId: Number(row.id), claimed: Number(row.claimed_until) > 0 });
    return entries;
  }

  async findById(id: number): Promise<MessageRow | undefined> {
    return this.db.selectFrom('messages').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** One conversation, newest first, from just below `beforeId`. */
  async history(pair: string, beforeId: number | undefined, limit: number): Promise<MessageRow[]> {
    let query = this.db.selectFrom('messages').selectAll().where('pair', '=', pair);
    if (beforeId !== undefined) query = query.where('id', '<', beforeId);
    return query.orderBy('id', 'desc').limit(limit).execute();
  }

  /** Everything the user sent or received after `afterId`, oldest first. */
  async sentOrReceivedAfter(userId: number, afterId: number, limit: number): Promise<MessageRow[]> {
    // Two index range scans merged here, rather than an OR that would sort the whole history.
    const [sent, received] = await Promise.all(
      (['sender_user_id', 'receiver_user_id'] as const).map((column) =>
        this.db.selectFrom('messages').selectAll().where(column, '=', userId).where('id', '>', afterId).orderBy('id').limit(limit).execute(),
      ),
    );
    const byId = new Map<number, MessageRow>();
    for (const row of [...sent!, ...received!]) byId.set(row.id, row);
    return [...byId.values()].sort((a, b) => a.id - b.id).slice(0, limit);
  }

  /** The user's conversations, most recent first, each with its last message. */
  async conversations(userId: number, beforeMessageId: number | undefined, limit: number): Promise<ConversationRow[]> {
    let query = this.db
      .selectFrom('conversations as c')
      .innerJoin('messages as m', 'm.id', 'c.last_message_id')
      .selectAll('m')
      .select(['c.partner as conversation_partner', 'c.unread as conversation_unread'])
      .where('c.user_id', '=', userId);
    if (beforeMessageId !== undefined) query = query.where('c.last_message_id', '<', beforeMessageId);
    const rows = await query.orderBy('c.last_message_id', 'desc').limit(limit).execute();
    return rows.map(({ conversation_partner: partner, conversation_unread: unread, ...message }) => ({ partner, unread: Number(unread), message }));
  }

  /**
   * Marks the reader's unread messages of a conversation up to `upToId` read, and records the
   * changes (the read marker for the sender) when any was; returns how many.
   */
  async markRead(readerId: number, pair: string, partnerKey: string, upToId: number, now: number, changes: Change[]): Promise<{ marked: number; recorded: Recorded[] }> {
    return this.db.transaction().execute(async (trx) => {
      if (changes.length > 0) await lockChanges(trx, this.kind);
      const result = await trx
        .updateTable('messages')
        .set({ read_at: now })
        .where('pair', '=', pair)
        .where('receiver_user_id', '=', readerId)
        .where('id', '<=', upToId)
        .where('read_at', 'is', null)
        .executeTakeFirst();
      const marked = Number(result.numUpdatedRows);
      if (marked === 0) return { marked, recorded: [] };
      await trx
        .updateTable('conversations')
        .set({ unread: sql<number>`case when unread > ${marked} then unread - ${marked} else 0 end` })
        .where('user_id', '=', readerId)
        .where('partner_key', '=', partnerKey)
        .execute();
      return { marked, recorded: await recordChanges(trx, this.kind, changes, now) };
    });
  }

  /**
   * Edits (a new sealed body) or erases (body '' and the deleted flag) a message that is not
   * deleted, with its events, its outbox entry and its receipt, in one transaction.
   */
  async change(change: MessageChange, set: { body: string; editedAt?: number; deleted?: true }): Promise<ChangeResult> {
    return this.db.transaction().execute(async (trx): Promise<ChangeResult> => {
      await lockChanges(trx, this.kind);
      if (change.receipt) {
        const receipt = await trx
          .insertInto('federation_receipts')
          .values({ peer: change.receipt.peer, request_key: change.receipt.requestKey, message_id: change.messageId, created_at: change.now })
          .onConflict((conflict) => conflict.columns(['peer', 'request_key']).doNothing())
          .executeTakeFirst();
        if (Number(receipt.numInsertedOrUpdatedRows ?? 0) === 0) return { applied: false, reason: 'duplicate' };
      }
      const updated = await trx
        .updateTable('messages')
        .set({ body: set.body, ...(set.editedAt !== undefined ? { edited_at: set.editedAt } : {}), ...(set.deleted ? { deleted: 1 } : {}) })
        .where('id', '=', change.messageId)
        .where('deleted', '=', 0)
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) === 0) return { applied: false, reason: 'deleted' };
      const recorded = await recordChanges(trx, this.kind, change.changes, change.now);
      if (change.outbox) {
        const earlier = await trx.selectFrom('outbox').select('id').where('receiver_key', '=', change.outbox.receiverKey).limit(1).executeTakeFirst();
        await trx
          .insertInto('outbox')
          .values({
            message_id: change.messageId,
            peer: change.outbox.peer,
            receiver_key: change.outbox.receiverKey,
            op: change.outbox.op,
            op_id: change.outbox.opId,
            attempts: 0,
            next_attempt_at: earlier ? WAITING_BEHIND_EARLIER : change.now,
            claimed_until: 0,
            claimed_by: null,
            last_error: null,
            created_at: change.now,
          })
          .execute();
      }
      const row = await trx.selectFrom('messages').selectAll().where('id', '=', change.messageId).executeTakeFirstOrThrow();
      return { applied: true, row, recorded };
    });
  }

  /** The message a peer's earlier request with this key stored, or changed. */
  async findReceipt(peer: string, requestKey: string): Promise<MessageRow | undefined> {
    return this.db
      .selectFrom('federation_receipts as r')
      .innerJoin('messages as m', 'm.id', 'r.message_id')
      .selectAll('m')
      .where('r.peer', '=', peer)
      .where('r.request_key', '=', requestKey)
      .executeTakeFirst();
  }

  /** Deletes receipts made before `cutoff`, the oldest `limit` of them at most (give or take a tie); answers how many. */
  async pruneReceipts(cutoff: number, limit: number): Promise<number> {
    const oldest = this.db.selectFrom('federation_receipts').select('request_key').where('created_at', '<', cutoff).orderBy('created_at').limit(limit);
    const result = await this.db.deleteFrom('federation_receipts').where('created_at', '<', cutoff).where('request_key', 'in', oldest).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  /** Messages stored under the id they travelled with (a peer's id is unique only for that peer). */
  async findByUuid(uuid: string): Promise<MessageRow[]> {
    return this.db.selectFrom('messages').selectAll().where('uuid', '=', uuid).execute();
  }

  /**
   * The keys of the user's local conversation partners (all, or those among `partnerKeys`) whose
   * conversation is established: both have written, or one has read the other's messages. An
   * unsolicited message alone makes no partner.
   */
  async establishedPartnerKeys(userId: number, partnerKeys?: string[]): Promise<string[]> {
    if (partnerKeys?.length === 0) return [];
    let query = this.establishedConversations(userId).select('c.partner_key');
    if (partnerKeys) query = query.where('c.partner_key', 'in', partnerKeys);
    const rows = await query.execute();
    return rows.map((row) => row.partner_key);
  }

  /** The user's established local conversation partners, with their names, in one query. */
  async establishedPartners(userId: number): Promise<{ id: number; username: string; usernameKey: string }[]> {
    return this.establishedConversations(userId)
      // The guard keeps PostgreSQL from casting a remote key, whatever order it checks conditions in.
      .innerJoin('users as u', (join) =>
        join.on(sql<boolean>`u.id = case when c.partner_key like 'u:%' then cast(substr(c.partner_key, 3) as integer) end`),
      )
      .select(['u.id as id', 'u.username as username', 'u.username_key as usernameKey'])
      .execute();
  }

  private establishedConversations(userId: number) {
    const self = `u:${userId}`;
    // A pair key sorts its two participant keys; both orders are asked for rather than sorting in SQL.
    const inPair = sql`m.pair in (cast(${self} as text) || '|' || c.partner_key, c.partner_key || '|' || cast(${self} as text))`;
    return this.db
      .selectFrom('conversations as c')
      .where('c.user_id', '=', userId)
      .where('c.partner_key', 'like', 'u:%')
      .where(
        sql<boolean>`(exists (select 1 from messages m where ${inPair} and m.read_at is not null)
          or (exists (select 1 from messages m where ${inPair} and m.sender_user_id = ${userId})
            and exists (select 1 from messages m where ${inPair} and m.sender_user_id <> ${userId})))`,
      );
  }
}

/** A conversation's summary takes the newest message and adds the unread ones. */
const addToConversation: InsertFinish<'conversations', InsertResult> = (insert) =>
  insert.onConflict((conflict) =>
    conflict.columns(['user_id', 'partner_key']).doUpdateSet((eb) => ({
      partner: eb.ref('excluded.partner'),
      last_message_id: eb.ref('excluded.last_message_id'),
      unread: eb('conversations.unread', '+', eb.ref('excluded.unread')),
    })),
  );

const returningEntries = (insert: InsertQueryBuilder<Tables, 'outbox', InsertResult>) => insert.returning(['id', 'message_id', 'claimed_until']);

function dedupeKey(item: NewMessage): string | undefined {
  if (item.receipt) return `r:${item.receipt.peer}:${item.receipt.requestKey}`;
  if (item.clientId !== null && item.senderUserId !== null) return `c:${item.senderUserId}:${item.clientId}`;
  return undefined;
}
