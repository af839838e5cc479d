// All SQL of the change feed's read side: a user's messages and events after a seq, with the
// messages they are about, a user's latest seq, and pruning of events (messages stay; the
// high-water mark is raised before rows go).
import type { Kysely, Selectable } from 'kysely';
import type { MessagesTable, Tables } from '../db/schema.js';

export interface FeedRow {
  seq: number;
  type: string;
  data: string | null;
  message: Selectable<MessagesTable> | null;
}

export class FeedRepository {
  constructor(private readonly db: Kysely<Tables>) {}

  /**
   * The user's feed after `after`, oldest first: their messages (seq = id) merged with their
   * rows of `events`, each with its message as it is now. One snapshot for the three reads, so
   * that no seq is passed over for one that committed after it was read.
   */
  async page(userId: number, after: number, limit: number): Promise<FeedRow[]> {
    const rows = await this.db
      .transaction()
      .setIsolationLevel('repeatable read')
      .execute(async (trx) => {
        const [sent, received] = await Promise.all(
          (['sender_user_id', 'receiver_user_id'] as const).map((column) =>
            trx.selectFrom('messages').selectAll().where(column, '=', userId).where('id', '>', after).orderBy('id').limit(limit).execute(),
          ),
        );
        const events = await trx
          .selectFrom('events as e')
          .leftJoin('messages as m', 'm.id', 'e.message_id')
          .selectAll('m')
          .select(['e.seq as event_seq', 'e.type as event_type', 'e.data as event_data', 'e.message_id as event_message_id'])
          .where('e.user_id', '=', userId)
          .where('e.seq', '>', after)
          .orderBy('e.seq')
          .limit(limit)
          .execute();
        return { sent: sent!, received: received!, events };
      });
    const bySeq = new Map<number, FeedRow>();
    for (const message of [...rows.sent, ...rows.received]) bySeq.set(Number(message.id), { seq: Number(message.id), type: 'message', data: null, message });
    for (const { event_seq: seq, event_type: type, event_data: data, event_message_id: messageId, ...message } of rows.events) {
      bySeq.set(Number(seq), { seq: Number(seq), type, data, message: messageId === null || message.id === null ? null : (message as Selectable<MessagesTable>) });
    }
    return [...bySeq.values()].sort((a, b) => a.seq - b.seq).slice(0, limit);
  }

  /** The user's latest seq, 0 when there is none. */
  async head(userId: number): Promise<number> {
    const row = await this.db
      .selectNoFrom((eb) => [
        eb.selectFrom('events').select((inner) => inner.fn.max('seq').as('seq')).where('user_id', '=', userId).as('event'),
        eb.selectFrom('messages').select((inner) => inner.fn.max('id').as('id')).where('sender_user_id', '=', userId).as('sent'),
        eb.selectFrom('messages').select((inner) => inner.fn.max('id').as('id')).where('receiver_user_id', '=', userId).as('received'),
      ])
      .executeTakeFirst();
    return Math.max(Number(row?.event ?? 0), Number(row?.sent ?? 0), Number(row?.received ?? 0));
  }

  /** Every seq up to this one may have been pruned. */
  prunedThrough(): Promise<number> {
    return prunedThroughIn(this.db);
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
    const { mark, through: reached } = await this.db
      .transaction()
      .setIsolationLevel('repeatable read')
      .execute(async (trx) => {
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

async function prunedThroughIn(db: Kysely<Tables>): Promise<number> {
  const row = await db.selectFrom('event_log_state').select('pruned_through').where('id', '=', 1).executeTakeFirst();
  return Number(row?.pruned_through ?? 0);
}
