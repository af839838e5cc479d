// All SQL of the outbox and of message deliveries: queueing entries in a message's transaction,
// claiming due entries (one worker per entry across instances, and per receiver only the oldest)
// and, by whoever holds it, the ones behind it for the same transaction; finishing them with
// their message's delivery status, and rescheduling. Only the oldest entry of a receiver is ever
// due (order.ts): a claim reads only due entries through their index, however long a dead
// peer's backlog grows.
import { sql, type ExpressionBuilder, type InsertQueryBuilder, type InsertResult, type Kysely, type Transaction } from 'kysely';
import { firstInLine, releaseNext, WAITING_BEHIND_EARLIER } from './order.js';
import { withChangeLock } from '../../db/change-transaction.js';
import type { DatabaseKind } from '../../db/database.js';
import { insertRows } from '../../db/insert-rows.js';
import { paddedList } from '../../db/query-shapes.js';
import type { OutboxTable, Tables } from '../../db/schema.js';
import type { EnqueuedEntries, FeedEntry, FeedLog, GroupItem, OutboxOp, OutboxRequest, Recorded } from '../../messages/ports.js';
import { carriesDelivery, claimedAtOnce } from '../transactions/items.js';

export { WAITING_BEHIND_EARLIER } from './order.js';

export interface ClaimedEntry {
  entryId: number;
  /** None for a group's state or a member's request. */
  messageId: number | null;
  peer: string;
  attempts: number;
  createdAt: number;
  uuid: string;
  senderUserId: number | null;
  sender: string;
  receiverName: string;
  body: string;
  deleted: boolean;
  /** The peer refused the message (or it could not go there at all): the peer has nothing to change. */
  deliveryRefused: boolean;
  /** An edit or a delete of the message, or a read marker up to it, under its own request id; null for the message itself. */
  op: OutboxOp | null;
  /** A read marker's reader, a local user. */
  readerName?: string;
  /** A group item, under its own id. */
  group?: { id: string; item: GroupItem };
}

/** A claimed entry with its receiver's key: entries travel in order per receiver. */
export interface QueuedEntry extends ClaimedEntry {
  receiverKey: string;
}

export interface Finished {
  entryId: number;
  messageId: number | null;
  status: 'delivered' | 'failed';
  failureCode: string | null;
  /** Ends an entry that carried a change (or nothing to send): the message's status stays. */
  entryOnly?: boolean;
  /** Told of the new status (a `status` event in its feed). */
  senderUserId: number | null;
}

/** An entry's end: the `status` event recorded for its sender, and whether its transaction made due an entry that waited behind one that ended. */
export interface FinishOutcome {
  recorded: Recorded | undefined;
  released: boolean;
}

export interface Lease {
  by: string;
  until: number;
}

export class OutboxRepository {
  constructor(
    private readonly db: Kysely<Tables>,
    private readonly kind: DatabaseKind,
    private readonly feed: FeedLog,
  ) {}

  /**
   * Adds entries in the caller's transaction, and a `queued` delivery for each new message (to a
   * peer, or posted to a group's home). An entry with nothing before it on its line is due at
   * once, and a message's (or a group request's) is claimed under `lease` for its first try; the
   * ones behind wait for the end of the one before.
   */
  async enqueue(requests: OutboxRequest[], now: number, lease: Lease, trx: Transaction<Tables>): Promise<EnqueuedEntries> {
    const entries: EnqueuedEntries = { messages: new Map(), groupItems: new Map() };
    if (requests.length === 0) return entries;
    const receivers = [...new Set(requests.map((request) => request.receiverKey))];
    const pending = await trx.selectFrom('outbox').select(['receiver_key', 'server']).distinct().where('receiver_key', 'in', paddedList(receivers)).execute();
    // A group's line is one per backend it goes to.
    const busy = new Set(pending.map((row) => lineOf(row.receiver_key, row.server)));
    const values = requests.map((request) => {
      const line = lineOf(request.receiverKey, request.server);
      const first = !busy.has(line);
      const claimed = first && claimedAtOnce(request);
      busy.add(line);
      return {
        message_id: request.messageId,
        conversation_id: request.conversationId,
        server: request.server,
        receiver_key: request.receiverKey,
        op: request.group ? request.group.type : (request.op?.kind ?? null),
        op_id: request.group ? request.id : (request.op?.id ?? null),
        payload: request.group ? JSON.stringify(request.group) : null,
        attempts: 0,
        next_attempt_at: first ? now : WAITING_BEHIND_EARLIER,
        claimed_until: claimed ? lease.until : 0,
        claimed_by: claimed ? lease.by : null,
        last_error: null,
        created_at: now,
      };
    });
    const { rows: inserted } = await insertRows(trx, this.kind, 'outbox', values, returningEntries);
    const deliveries = requests.filter((request) => carriesDelivery(request.group, request.op)).map((request) => ({ message_id: request.messageId!, server: request.server, status: 'queued' as const, failure_code: null }));
    if (deliveries.length > 0) await insertRows(trx, this.kind, 'message_deliveries', deliveries);
    for (const row of inserted) {
      const entry = { entryId: Number(row.id), claimed: Number(row.claimed_until) > 0 };
      if (row.op === null) entries.messages.set(Number(row.message_id), entry);
      else if (row.op.startsWith('group_')) entries.groupItems.set(row.op_id!, entry);
    }
    return entries;
  }

  /**
   * Takes a lease on up to `limit` due entries that are first in line for their receiver, of one
   * peer when `server` is given. One UPDATE does it, so it holds the write lock on SQLite;
   * PostgreSQL skips rows another instance is claiming at the same moment.
   */
  async claimDue(now: number, limit: number, lease: Lease, server?: string): Promise<QueuedEntry[]> {
    const claimed = await this.db
      .updateTable('outbox')
      .set({ claimed_until: lease.until, claimed_by: lease.by })
      .where('id', 'in', (eb) => {
        let due = eb
          .selectFrom('outbox as o')
          .select('o.id')
          .where('o.next_attempt_at', '<=', now)
          .where('o.claimed_until', '<=', now)
          // What keeps the order per receiver, whatever next_attempt_at says (and entries written
          // before WAITING_BEHIND_EARLIER existed are due while they wait).
          .where(firstInLine);
        if (server !== undefined) due = due.where('o.server', '=', server);
        // In due order: the index on next_attempt_at then yields the due entries alone.
        due = due.orderBy('o.next_attempt_at').limit(limit);
        return this.kind === 'postgres' ? due.forUpdate().skipLocked() : due;
      })
      .returning('id')
      .execute();
    return this.entries(claimed.map((row) => Number(row.id)));
  }

  /**
   * Takes a lease on up to `limit` entries waiting behind these receivers' first ones, which the
   * caller holds (and so are not free), oldest first: they travel in the same transaction as the
   * entries before them, which keeps their order. No one else claims them: an entry behind another
   * is never first in line.
   */
  async claimBehind(server: string, receiverKeys: string[], now: number, limit: number, lease: Lease): Promise<QueuedEntry[]> {
    if (receiverKeys.length === 0 || limit <= 0) return [];
    const claimed = await this.db
      .updateTable('outbox')
      .set({ claimed_until: lease.until, claimed_by: lease.by })
      .where('id', 'in', (eb) =>
        eb
          .selectFrom('outbox')
          .select('id')
          .where('receiver_key', 'in', paddedList(receiverKeys))
          .where('server', '=', server)
          .where('claimed_until', '<=', now)
          .orderBy('id')
          .limit(limit),
      )
      .returning('id')
      .execute();
    return this.entries(claimed.map((row) => Number(row.id)));
  }

  /** Entries with what their requests need: the message, the receiver's name, a read marker's reader, a group item's fields. */
  async entries(ids: number[]): Promise<QueuedEntry[]> {
    if (ids.length === 0) return [];
    const [messages, groups] = await Promise.all([this.messageEntries(ids), this.groupEntries(ids)]);
    return [...messages, ...groups].sort((a, b) => a.entryId - b.entryId);
  }

  private async messageEntries(ids: number[]): Promise<QueuedEntry[]> {
    const rows = await this.db
      .selectFrom('outbox as o')
      .innerJoin('messages as m', 'm.id', 'o.message_id')
      .innerJoin('conversation_members as r', (join) => join.onRef('r.conversation_id', '=', 'm.conversation_id').onRef('r.member_key', '=', 'o.receiver_key'))
      .select((eb) => [
        ...ENTRY_COLUMNS,
        'm.uuid as uuid',
        'm.sender_user_id as senderUserId',
        'm.sender as sender',
        'r.name as receiverName',
        'm.body as body',
        'm.deleted as deleted',
        'o.op as op',
        'o.op_id as opId',
        deliveryRefused(eb),
        // The local member who read, for a read marker (the message's sender is the peer's user).
        eb
          .selectFrom('conversation_members as l')
          .select('l.name')
          .whereRef('l.conversation_id', '=', 'm.conversation_id')
          .where('l.user_id', 'is not', null)
          .whereRef('l.member_key', '<>', 'o.receiver_key')
          .limit(1)
          .as('localName'),
      ])
      .where('o.id', 'in', ids)
      .where((eb) => eb.or([eb('o.op', 'is', null), eb('o.op', 'in', ['edit', 'delete', 'read'])]))
      .execute();
    return rows.map(({ op, opId, deleted, localName, deliveryRefused, ...row }) => ({
      ...row,
      entryId: Number(row.entryId),
      messageId: Number(row.messageId),
      deleted: Number(deleted) === 1,
      deliveryRefused: Number(deliveryRefused) === 1,
      op: op && opId && !op.startsWith('group_') ? { kind: op as OutboxOp['kind'], id: opId } : null,
      ...(op === 'read' && localName ? { readerName: localName } : {}),
    }));
  }

  /** Group items: their fields from the payload, and the message they are about (gone: nothing left to send but a state or request). */
  private async groupEntries(ids: number[]): Promise<QueuedEntry[]> {
    const rows = await this.db
      .selectFrom('outbox as o')
      .leftJoin('messages as m', 'm.id', 'o.message_id')
      .select((eb) => [
        ...ENTRY_COLUMNS,
        'o.op_id as opId',
        'o.payload as payload',
        'm.uuid as uuid',
        'm.sender_user_id as senderUserId',
        'm.body as body',
        'm.deleted as deleted',
        deliveryRefused(eb),
      ])
      .where('o.id', 'in', ids)
      .where('o.op', 'in', ['group_state', 'group_message', 'group_post', 'group_request'])
      .execute();
    return rows.map((row) => ({
      entryId: Number(row.entryId),
      messageId: row.messageId === null ? null : Number(row.messageId),
      peer: row.peer,
      receiverKey: row.receiverKey,
      attempts: row.attempts,
      createdAt: Number(row.createdAt),
      uuid: row.uuid ?? '',
      senderUserId: row.senderUserId === null ? null : Number(row.senderUserId),
      sender: '',
      receiverName: '',
      body: row.body ?? '',
      deleted: Number(row.deleted ?? 0) === 1,
      deliveryRefused: Number(row.deliveryRefused) === 1,
      op: null,
      group: { id: row.opId!, item: JSON.parse(row.payload!) as GroupItem },
    }));
  }

  /**
   * Makes due the first waiting entry of each receiver that has nothing before it: what the end
   * of an entry does for the one behind it, here for every receiver at once. Run at start, for an
   * entry that left the outbox some other way (deleting a message deletes its entries).
   */
  async releaseWaiting(now: number): Promise<void> {
    await this.db
      .updateTable('outbox as o')
      .set({ next_attempt_at: now })
      .where('o.next_attempt_at', '=', WAITING_BEHIND_EARLIER)
      .where(firstInLine)
      .execute();
  }

  async markDelivered(messageId: number, server: string, trx: Transaction<Tables>): Promise<boolean> {
    const updated = await trx
      .updateTable('message_deliveries')
      .set({ status: 'delivered', failure_code: null })
      .where('message_id', '=', messageId)
      .where('server', '=', server)
      .where('status', '<>', 'delivered')
      .executeTakeFirst();
    return Number(updated.numUpdatedRows) > 0;
  }

  /**
   * Removes finished entries and records their messages' final delivery status with a `status`
   * entry in each local sender's feed, in one transaction; answers each entry's outcome.
   */
  async finish(entries: Finished[], now: number): Promise<FinishOutcome[]> {
    // The change lock also orders this transaction with those that add entries (PostgreSQL): an
    // entry added behind one that ends here is either seen by the release below or sees the end itself.
    return withChangeLock(this.db, this.kind, async (trx) => {
      const ended = await trx
        .deleteFrom('outbox')
        .where(
          'id',
          'in',
          paddedList(entries.map((entry) => entry.entryId)),
        )
        .returning(['receiver_key', 'server'])
        .execute();
      const lines = new Map(ended.map((row) => [lineOf(row.receiver_key, row.server), { receiverKey: row.receiver_key, server: row.server }]));
      const released = await releaseNext(trx, [...lines.values()], now);
      const finished = entries.filter((entry) => !entry.entryOnly);
      const delivered = finished.filter((entry) => entry.status === 'delivered' && entry.messageId !== null).map((entry) => entry.messageId!);
      // A member's post may be delivered already: the home's copy of it came back before this answer (its sender was told then).
      const newlyDelivered = new Set<number>();
      if (delivered.length > 0) {
        const changed = await trx
          .updateTable('message_deliveries')
          .set({ status: 'delivered', failure_code: null })
          .where('message_id', 'in', paddedList(delivered))
          .where('status', '!=', 'delivered')
          .returning('message_id')
          .execute();
        for (const row of changed) newlyDelivered.add(Number(row.message_id));
      }
      const told = finished.filter((entry) => entry.senderUserId !== null && (entry.status !== 'delivered' || newlyDelivered.has(entry.messageId!)));
      for (const entry of finished.filter((e) => e.status === 'failed' && e.messageId !== null)) {
        await trx.updateTable('message_deliveries').set({ status: 'failed', failure_code: entry.failureCode }).where('message_id', '=', entry.messageId!).execute();
      }
      const feedEntries = told.map((entry): FeedEntry => ({ userId: entry.senderUserId!, type: 'status', messageId: null, data: { id: entry.messageId, status: entry.status } }));
      const recorded = await this.feed.appendToFeeds(feedEntries, now, trx);
      const recordedFor = new Map(told.map((entry, index) => [entry, recorded[index]]));
      return entries.map((entry) => ({ recorded: recordedFor.get(entry), released }));
    });
  }

  /**
   * Releases entries this worker holds for a later attempt: each receiver's first (`heads`) due
   * again at its time, the ones behind them waiting for it as before.
   */
  async reschedule(heads: { entryId: number; attempts: number; nextAttemptAt: number }[], behind: number[], by: string, error: string): Promise<void> {
    const lastError = error.slice(0, 200);
    // Heads that share an attempt count share a time: one statement each.
    const byTime = new Map<string, number[]>();
    for (const head of heads) {
      const key = `${head.attempts}:${head.nextAttemptAt}`;
      byTime.set(key, [...(byTime.get(key) ?? []), head.entryId]);
    }
    for (const [key, ids] of byTime) {
      const [attempts, nextAttemptAt] = key.split(':').map(Number) as [number, number];
      await this.db
        .updateTable('outbox')
        .set({ attempts, next_attempt_at: nextAttemptAt, claimed_until: 0, claimed_by: null, last_error: lastError })
        .where('id', 'in', ids)
        .where('claimed_by', '=', by)
        .execute();
    }
    if (behind.length > 0) {
      await this.db
        .updateTable('outbox')
        .set({ next_attempt_at: WAITING_BEHIND_EARLIER, claimed_until: 0, claimed_by: null })
        .where('id', 'in', behind)
        .where('claimed_by', '=', by)
        .execute();
    }
  }

  /**
   * Makes due now each of the peer's entries that waits out a backoff (first in its line): the
   * peer answers again, so its other lines need not wait as long as its outage lasted.
   */
  async retryNow(server: string, now: number): Promise<void> {
    await this.db
      .updateTable('outbox')
      .set({ next_attempt_at: now })
      .where('server', '=', server)
      .where('next_attempt_at', '>', now)
      .where('next_attempt_at', '<>', WAITING_BEHIND_EARLIER)
      .execute();
  }

  /** Gives back entries this worker claimed and did not send (they did not fit a transaction): as they were, unclaimed. */
  async release(ids: number[], by: string): Promise<void> {
    if (ids.length === 0) return;
    await this.db.updateTable('outbox').set({ claimed_until: 0, claimed_by: null }).where('id', 'in', ids).where('claimed_by', '=', by).execute();
  }

  /** The peers that have an entry due and unclaimed, first in line for its receiver. */
  async duePeers(now: number): Promise<string[]> {
    const rows = await this.db
      .selectFrom('outbox as o')
      .select('o.server')
      .distinct()
      .where('o.next_attempt_at', '<=', now)
      .where('o.claimed_until', '<=', now)
      .where(firstInLine)
      .execute();
    return rows.map((row) => row.server);
  }

  async backlog(): Promise<{ depth: number; oldestCreatedAt: number | null }> {
    const row = await this.db
      .selectFrom('outbox')
      .select((eb) => [eb.fn.countAll<number>().as('depth'), eb.fn.min('created_at').as('oldest')])
      .executeTakeFirstOrThrow();
    return { depth: Number(row.depth), oldestCreatedAt: row.oldest === null ? null : Number(row.oldest) };
  }
}

/** Failure codes this backend decides, not the peer: an earlier try may still have reached the peer. */
export const DELETED_BEFORE_IT_WENT_CODE = 'deleted';
export const GAVE_UP_CODE = 'gave_up';
const MAYBE_RECEIVED = [DELETED_BEFORE_IT_WENT_CODE, GAVE_UP_CODE];

/** Whether the peer refused the entry's message: 1 or 0, null without a delivery row (group items from the home). */
function deliveryRefused(eb: ExpressionBuilder<Tables & { o: OutboxTable }, 'o'>) {
  return eb
    .selectFrom('message_deliveries as d')
    .select(sql<number>`case when d.status = 'failed' and coalesce(d.failure_code, '') not in (${sql.join(MAYBE_RECEIVED.map((code) => sql.lit(code)))}) then 1 else 0 end`.as('refused'))
    .whereRef('d.message_id', '=', 'o.message_id')
    .whereRef('d.server', '=', 'o.server')
    .limit(1)
    .as('deliveryRefused');
}

/** What every entry's request needs of its outbox row. */
const ENTRY_COLUMNS = ['o.id as entryId', 'o.message_id as messageId', 'o.server as peer', 'o.receiver_key as receiverKey', 'o.attempts as attempts', 'o.created_at as createdAt'] as const;

const returningEntries = (insert: InsertQueryBuilder<Tables, 'outbox', InsertResult>) => insert.returning(['id', 'message_id', 'claimed_until', 'op', 'op_id']);

/** The key of a line kept in order: a receiver's key names its backend, a group's does not. */
function lineOf(receiverKey: string, server: string): string {
  return `${receiverKey}|${server}`;
}
