// All SQL of the outbox and of message deliveries: queueing entries in a message's transaction,
// claiming due entries (one worker per entry across instances, and per receiver only the
// oldest), finishing them with their message's delivery status, and rescheduling.
// Only the oldest entry of a receiver is ever due: the ones behind it wait with next_attempt_at
// = WAITING_BEHIND_EARLIER and the end of the entry before them makes the next one due. A claim
// thus reads only due entries through their index, however long a dead peer's backlog grows.
import { sql, type ExpressionBuilder, type InsertQueryBuilder, type InsertResult, type Kysely, type Transaction } from 'kysely';
import { withChangeLock } from '../../db/change-transaction.js';
import type { DatabaseKind } from '../../db/database.js';
import { insertRows } from '../../db/insert-rows.js';
import type { OutboxTable, Tables } from '../../db/schema.js';
import type { FeedEntry, FeedLog, OutboxRequest, Recorded } from '../../messages/ports.js';

/** next_attempt_at of an entry that waits for an earlier one of its receiver to end. */
export const WAITING_BEHIND_EARLIER = Number.MAX_SAFE_INTEGER;

export interface ClaimedEntry {
  entryId: number;
  messageId: number;
  peer: string;
  attempts: number;
  createdAt: number;
  uuid: string;
  senderUserId: number | null;
  sender: string;
  receiverName: string;
  body: string;
  deleted: boolean;
  /** An edit or a delete of the message, under its own request id; null for the message itself. */
  op: { kind: 'edit' | 'delete'; id: string } | null;
}

export interface Finished {
  entryId: number;
  messageId: number;
  status: 'delivered' | 'failed';
  failureCode: string | null;
  /** Ends an entry that carried a change (or nothing to send): the message's status stays. */
  entryOnly?: boolean;
  /** Told of the new status (a `status` event in its feed). */
  senderUserId: number | null;
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
   * Adds entries in the caller's transaction, and a `queued` delivery for each new message. An
   * entry with nothing before it for its receiver is due at once, and a message's is claimed
   * under `lease` for its first try; the ones behind wait for the end of the one before.
   */
  async enqueue(requests: OutboxRequest[], now: number, lease: Lease, trx: Transaction<Tables>): Promise<Map<number, { entryId: number; claimed: boolean }>> {
    const entries = new Map<number, { entryId: number; claimed: boolean }>();
    if (requests.length === 0) return entries;
    const receivers = [...new Set(requests.map((request) => request.receiverKey))];
    const pending = await trx.selectFrom('outbox').select('receiver_key').distinct().where('receiver_key', 'in', receivers).execute();
    const busy = new Set(pending.map((row) => row.receiver_key));
    const values = requests.map((request) => {
      const first = !busy.has(request.receiverKey);
      const claimed = first && !request.op;
      busy.add(request.receiverKey);
      return {
        message_id: request.messageId,
        conversation_id: request.conversationId,
        server: request.server,
        receiver_key: request.receiverKey,
        op: request.op?.kind ?? null,
        op_id: request.op?.id ?? null,
        attempts: 0,
        next_attempt_at: first ? now : WAITING_BEHIND_EARLIER,
        claimed_until: claimed ? lease.until : 0,
        claimed_by: claimed ? lease.by : null,
        last_error: null,
        created_at: now,
      };
    });
    const { rows: inserted } = await insertRows(trx, this.kind, 'outbox', values, returningEntries);
    const deliveries = requests.filter((request) => !request.op).map((request) => ({ message_id: request.messageId, server: request.server, status: 'queued' as const, failure_code: null }));
    if (deliveries.length > 0) await insertRows(trx, this.kind, 'message_deliveries', deliveries);
    for (const row of inserted) if (row.op === null) entries.set(Number(row.message_id), { entryId: Number(row.id), claimed: Number(row.claimed_until) > 0 });
    return entries;
  }

  /**
   * Takes a lease on up to `limit` due entries that are first in line for their receiver. One
   * UPDATE does it, so it holds the write lock on SQLite; PostgreSQL skips rows another
   * instance is claiming at the same moment.
   */
  async claimDue(now: number, limit: number, lease: Lease): Promise<ClaimedEntry[]> {
    const claimed = await this.db
      .updateTable('outbox')
      .set({ claimed_until: lease.until, claimed_by: lease.by })
      .where('id', 'in', (eb) => {
        const due = eb
          .selectFrom('outbox as o')
          .select('o.id')
          .where('o.next_attempt_at', '<=', now)
          .where('o.claimed_until', '<=', now)
          // What keeps the order per receiver, whatever next_attempt_at says (and entries written
          // before WAITING_BEHIND_EARLIER existed are due while they wait).
          .where(firstInLine)
          // In due order: the index on next_attempt_at then yields the due entries alone.
          .orderBy('o.next_attempt_at')
          .limit(limit);
        return this.kind === 'postgres' ? due.forUpdate().skipLocked() : due;
      })
      .returning('id')
      .execute();
    if (claimed.length === 0) return [];
    const rows = await this.db
      .selectFrom('outbox as o')
      .innerJoin('messages as m', 'm.id', 'o.message_id')
      .innerJoin('conversation_members as r', (join) => join.onRef('r.conversation_id', '=', 'm.conversation_id').onRef('r.member_key', '=', 'o.receiver_key'))
      .select([
        'o.id as entryId',
        'o.message_id as messageId',
        'o.server as peer',
        'o.attempts as attempts',
        'o.created_at as createdAt',
        'm.uuid as uuid',
        'm.sender_user_id as senderUserId',
        'm.sender as sender',
        'r.name as receiverName',
        'm.body as body',
        'm.deleted as deleted',
        'o.op as op',
        'o.op_id as opId',
      ])
      .where(
        'o.id',
        'in',
        claimed.map((row) => row.id),
      )
      .orderBy('o.id')
      .execute();
    return rows.map(({ op, opId, deleted, ...row }) => ({
      ...row,
      entryId: Number(row.entryId),
      messageId: Number(row.messageId),
      deleted: Number(deleted) === 1,
      op: op && opId ? { kind: op, id: opId } : null,
    }));
  }

  /** Takes a lease on one entry, if it is due and first in line; false otherwise. */
  async claimEntry(entryId: number, now: number, lease: Lease): Promise<boolean> {
    const claimed = await this.db
      .updateTable('outbox as o')
      .set({ claimed_until: lease.until, claimed_by: lease.by })
      .where('o.id', '=', entryId)
      .where('o.next_attempt_at', '<=', now)
      .where('o.claimed_until', '<=', now)
      .where(firstInLine)
      .executeTakeFirst();
    return Number(claimed.numUpdatedRows) === 1;
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

  /**
   * Removes finished entries and records their messages' final delivery status with a `status`
   * entry in each local sender's feed, in one transaction; answers each entry's recorded one.
   */
  async finish(entries: Finished[], now: number): Promise<(Recorded | undefined)[]> {
    // The change lock also orders this transaction with those that add entries (PostgreSQL): an
    // entry added behind one that ends here is either seen by the release below or sees the end itself.
    return withChangeLock(this.db, this.kind, async (trx) => {
      const told = entries.filter((entry) => !entry.entryOnly && entry.senderUserId !== null);
      const ended = await trx
        .deleteFrom('outbox')
        .where(
          'id',
          'in',
          entries.map((entry) => entry.entryId),
        )
        .returning('receiver_key')
        .execute();
      await releaseNext(trx, [...new Set(ended.map((row) => row.receiver_key))], now);
      const finished = entries.filter((entry) => !entry.entryOnly);
      const delivered = finished.filter((entry) => entry.status === 'delivered').map((entry) => entry.messageId);
      if (delivered.length > 0) await trx.updateTable('message_deliveries').set({ status: 'delivered', failure_code: null }).where('message_id', 'in', delivered).execute();
      for (const entry of finished.filter((e) => e.status === 'failed')) {
        await trx.updateTable('message_deliveries').set({ status: 'failed', failure_code: entry.failureCode }).where('message_id', '=', entry.messageId).execute();
      }
      const feedEntries = told.map((entry): FeedEntry => ({ userId: entry.senderUserId!, type: 'status', messageId: null, data: { id: entry.messageId, status: entry.status } }));
      const recorded = await this.feed.appendToFeeds(feedEntries, now, trx);
      return entries.map((entry) => {
        const index = told.indexOf(entry);
        return index === -1 ? undefined : recorded[index];
      });
    });
  }

  /** Releases an entry for a later attempt, if this worker still holds it. */
  async reschedule(entryId: number, by: string, attempts: number, nextAttemptAt: number, error: string): Promise<void> {
    await this.db
      .updateTable('outbox')
      .set({ attempts, next_attempt_at: nextAttemptAt, claimed_until: 0, claimed_by: null, last_error: error.slice(0, 200) })
      .where('id', '=', entryId)
      .where('claimed_by', '=', by)
      .execute();
  }

  async backlog(): Promise<{ depth: number; oldestCreatedAt: number | null }> {
    const row = await this.db
      .selectFrom('outbox')
      .select((eb) => [eb.fn.countAll<number>().as('depth'), eb.fn.min('created_at').as('oldest')])
      .executeTakeFirstOrThrow();
    return { depth: Number(row.depth), oldestCreatedAt: row.oldest === null ? null : Number(row.oldest) };
  }
}

const returningEntries = (insert: InsertQueryBuilder<Tables, 'outbox', InsertResult>) => insert.returning(['id', 'message_id', 'claimed_until', 'op']);

/** No earlier entry of the same receiver is in the outbox: entry `o` is first in line. */
function firstInLine({ not, exists, selectFrom }: ExpressionBuilder<Tables & { o: OutboxTable }, 'o'>) {
  return not(
    exists(
      selectFrom('outbox as e')
        .select(sql`1`.as('one'))
        .whereRef('e.receiver_key', '=', 'o.receiver_key')
        .whereRef('e.id', '<', 'o.id'),
    ),
  );
}

/** Makes due the entry now first in line for each receiver, if it was waiting behind the ones that ended. */
async function releaseNext(trx: Transaction<Tables>, receiverKeys: string[], now: number): Promise<void> {
  if (receiverKeys.length === 0) return;
  // One min() per receiver, each a single step of the (receiver_key, id) index; a GROUP BY would
  // read every waiting entry of the receiver, at each end of one of them. Joined as raw SQL: a
  // query builder's union copies itself at each arm.
  const firsts = sql.join(
    receiverKeys.map((key) => sql`select min(id) from outbox where receiver_key = ${key}`),
    sql` union all `,
  );
  await trx
    .updateTable('outbox')
    .set({ next_attempt_at: now })
    .where('next_attempt_at', '=', WAITING_BEHIND_EARLIER)
    .where('id', 'in', sql<number>`(${firsts})`)
    .execute();
}
