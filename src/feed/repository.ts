// All SQL of the change feed's own tables: appending entries (their seqs drawn from the
// messages' id counter, in the transaction of the change they record), a user's entries after a
// seq, a user's latest seq, and pruning (messages stay; the high-water mark is raised before rows
// go). A user's feed is the messages of their conversations (each one's seq is its id) and their
// rows of `events`: a new message costs the feed no row of its own. Every append runs in a
// transaction opened by withChangeLock, so appends commit in the order their seqs were drawn: a
// reader that sees seq N has already been able to see every seq below it.
import type { Kysely, Transaction } from 'kysely';
import type { DatabaseKind } from '../db/database.js';
import { withSnapshot } from '../db/change-transaction.js';
import { lastReservedId, reserveIds } from '../db/ids.js';
import { insertRows } from '../db/insert-rows.js';
import { executeShaped, paddedList } from '../db/query-shapes.js';
import type { Tables } from '../db/schema.js';
import type { FeedEntry, FeedLog, Recorded } from '../messages/ports.js';

export interface EventRow {
  seq: number;
  type: string;
  data: string | null;
  messageId: number | null;
  /** The group the event is about, if any. */
  conversationId: number | null;
}

type Executor = Kysely<Tables> | Transaction<Tables>;

export class FeedRepository implements FeedLog {
  constructor(
    private readonly db: Kysely<Tables>,
    private readonly kind: DatabaseKind,
  ) {}

  async appendToFeeds(entries: FeedEntry[], now: number, trx: Transaction<Tables>): Promise<Recorded[]> {
    if (entries.length === 0) return [];
    const stored = entries.filter((entry) => entry.type !== 'message');
    const drawn = await reserveIds(trx, this.kind, 'messages', stored.length);
    let next = 0;
    const seqs = entries.map((entry) => (entry.type === 'message' ? entry.messageId! : drawn[next++]!));
    if (stored.length > 0) {
      const rows = entries.flatMap((entry, index) =>
        entry.type === 'message'
          ? []
          : [
              {
                seq: seqs[index]!,
                user_id: entry.userId,
                type: entry.type,
                message_id: entry.messageId,
                data: entry.data ? JSON.stringify(entry.data) : null,
                created_at: now,
                conversation_id: entry.conversationId ?? null,
              },
            ],
      );
      await insertRows(trx, this.kind, 'events', rows);
    }

    // Each user's latest seq before this transaction's, read under the lock, so that `prev`
    // chains every entry of a user (this transaction's numbers are above every committed one).
    // A member row's last message is that of its conversation: their greatest is the user's
    // latest message, one step of the (user_id, last_message_id) index.
    const below = Math.min(...seqs);
    const users = [...new Set(entries.map((entry) => entry.userId))];
    // Compiled once per shape, as this runs in every group commit; the padded list of users lets
    // a few shapes serve every size of batch.
    const { rows: heads } = await executeShaped(trx, this.kind, 'feed heads', [below, ...paddedList(users)], ([before, ...ids]) =>
      trx
        .selectFrom('users as u')
        .select((eb) => [
          'u.id as userId',
          eb
            .selectFrom('events as e')
            .select((inner) => inner.fn.max('e.seq').as('seq'))
            .whereRef('e.user_id', '=', 'u.id')
            .where('e.seq', '<', before as unknown as number)
            .as('event'),
          eb.selectFrom('conversation_members as c').select((inner) => inner.fn.max('c.last_message_id').as('id')).whereRef('c.user_id', '=', 'u.id').as('message'),
        ])
        .where('u.id', 'in', ids as unknown as number[]),
    );
    const last = new Map(heads.map((row) => [Number(row.userId), Math.max(Number(row.event ?? 0), Number(row.message ?? 0))]));
    const recorded: Recorded[] = new Array(entries.length);
    for (const index of entries.map((_, i) => i).sort((a, b) => seqs[a]! - seqs[b]!)) {
      const { userId } = entries[index]!;
      recorded[index] = { userId, seq: seqs[index]!, prev: last.get(userId) ?? 0 };
      last.set(userId, seqs[index]!);
    }
    return recorded;
  }

  /**
   * The user's rows of `events` after `after`, oldest first; those about a group only while the
   * user is a member of it (leaving ends a member's access to what was recorded for them).
   */
  async eventsAfter(userId: number, after: number, limit: number, trx: Executor = this.db): Promise<EventRow[]> {
    const rows = await trx
      .selectFrom('events as e')
      .leftJoin('conversation_members as c', (join) => join.onRef('c.conversation_id', '=', 'e.conversation_id').onRef('c.user_id', '=', 'e.user_id'))
      .select(['e.seq as seq', 'e.type as type', 'e.data as data', 'e.message_id as message_id', 'e.conversation_id as conversation_id'])
      .where('e.user_id', '=', userId)
      .where('e.seq', '>', after)
      .where((eb) => eb.or([eb('e.conversation_id', 'is', null), eb('c.user_id', 'is not', null)]))
      .orderBy('e.seq')
      .limit(limit)
      .execute();
    return rows.map((row) => ({
      seq: Number(row.seq),
      type: row.type,
      data: row.data,
      messageId: row.message_id === null ? null : Number(row.message_id),
      conversationId: row.conversation_id === null ? null : Number(row.conversation_id),
    }));
  }

  /** The user's latest seq, 0 when there is none. */
  async head(userId: number): Promise<number> {
    const row = await this.db
      .selectNoFrom((eb) => [
        eb.selectFrom('events').select((inner) => inner.fn.max('seq').as('seq')).where('user_id', '=', userId).as('event'),
        eb.selectFrom('conversation_members').select((inner) => inner.fn.max('last_message_id').as('id')).where('user_id', '=', userId).as('message'),
      ])
      .executeTakeFirst();
    return Math.max(Number(row?.event ?? 0), Number(row?.message ?? 0));
  }

  /** The highest seq this backend has given out (or is about to): a client cannot have seen a later one. */
  newestSeq(): Promise<number> {
    return lastReservedId(this.db, this.kind, 'messages');
  }

  /** Every seq up to this one may have been pruned. */
  prunedThrough(trx: Executor = this.db): Promise<number> {
    return prunedThroughIn(trx);
  }

  /**
   * Prunes the feed before `cutoff`: the mark moves up to the last seq (message or event) before
   * the first one that is still recent, and events up to it are deleted (messages stay in their
   * histories); returns how many went. The mark is raised (and committed) first: a reader that
   * finds rows missing then also finds the mark above its `after`.
   */
  async prune(cutoff: number, batchSize: number): Promise<number> {
    // One snapshot for the reads: a message committed between them must not be counted both as
    // absent from the recent ones and present in the highest seq, or the mark would pass over
    // a recent message and a client continuing from below it would be told it is gone.
    const { mark, through: reached } = await withSnapshot(this.db, async (trx) => {
      const mark = await prunedThroughIn(trx);
      // Only what aged since the last run is scanned: both tables are read upwards from the mark.
      const event = await trx.selectFrom('events').select('seq as seq').where('seq', '>', mark).where('created_at', '>=', cutoff).orderBy('seq').limit(1).executeTakeFirst();
      const message = await trx.selectFrom('messages').select('id as seq').where('id', '>', mark).where('created_at', '>=', cutoff).orderBy('id').limit(1).executeTakeFirst();
      if (event || message) return { mark, through: Math.min(Number(event?.seq ?? Infinity), Number(message?.seq ?? Infinity)) - 1 };
      const last = await trx
        .selectNoFrom((eb) => [
          eb.selectFrom('events').select((inner) => inner.fn.max('seq').as('seq')).as('event'),
          eb.selectFrom('messages').select((inner) => inner.fn.max('id').as('id')).as('message'),
        ])
        .executeTakeFirst();
      return { mark, through: Math.max(Number(last?.event ?? 0), Number(last?.message ?? 0)) };
    });
    let through = reached;
    if (through > mark) await this.db.updateTable('event_log_state').set({ pruned_through: through }).where('id', '=', 1).where('pruned_through', '<', through).execute();
    // Below the mark too: a prune interrupted after raising it left its rows behind.
    through = Math.max(through, mark);
    let removed = 0;
    for (;;) {
      const result = await this.db
        .deleteFrom('events')
        .where('seq', 'in', (eb) => eb.selectFrom('events').select('seq').where('seq', '<=', through).orderBy('seq').limit(batchSize))
        .executeTakeFirst();
      const count = Number(result.numDeletedRows);
      removed += count;
      if (count < batchSize) return removed;
    }
  }
}

async function prunedThroughIn(db: Executor): Promise<number> {
  const row = await db.selectFrom('event_log_state').select('pruned_through').where('id', '=', 1).executeTakeFirst();
  return Number(row?.pruned_through ?? 0);
}
