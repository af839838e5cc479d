// All SQL of the change feed's read side: a user's events after a seq with the messages they
// are about, a user's latest seq, and pruning (the high-water mark is raised before rows go).
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

  /** The user's events after `after`, oldest first, each with its message as it is now. */
  async page(userId: number, after: number, limit: number): Promise<FeedRow[]> {
    const rows = await this.db
      .selectFrom('events as e')
      .leftJoin('messages as m', 'm.id', 'e.message_id')
      .selectAll('m')
      .select(['e.seq as event_seq', 'e.type as event_type', 'e.data as event_data', 'e.message_id as event_message_id'])
      .where('e.user_id', '=', userId)
      .where('e.seq', '>', after)
      .orderBy('e.seq')
      .limit(limit)
      .execute();
    return rows.map(({ event_seq: seq, event_type: type, event_data: data, event_message_id: messageId, ...message }) => ({
      seq: Number(seq),
      type,
      data,
      message: messageId === null || message.id === null ? null : (message as Selectable<MessagesTable>),
    }));
  }

  /** The user's latest seq, 0 when there is none. */
  async head(userId: number): Promise<number> {
    const row = await this.db
      .selectFrom('events')
      .select((eb) => eb.fn.max('seq').as('head'))
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return row?.head == null ? 0 : Number(row.head);
  }

  /** Every seq up to this one may have been pruned. */
  async prunedThrough(): Promise<number> {
    const row = await this.db.selectFrom('event_log_state').select('pruned_through').where('id', '=', 1).executeTakeFirst();
    return Number(row?.pruned_through ?? 0);
  }

  /**
   * Prunes the events recorded before `cutoff`; returns how many went. The mark is raised (and
   * committed) first: a reader that finds rows missing then also finds the mark above its `after`.
   */
  async prune(cutoff: number, batchSize: number): Promise<number> {
    const firstKept = await this.db.selectFrom('events').select('seq').where('created_at', '>=', cutoff).orderBy('seq').limit(1).executeTakeFirst();
    let through: number;
    if (firstKept) through = Number(firstKept.seq) - 1;
    else {
      const last = await this.db
        .selectFrom('events')
        .select((eb) => eb.fn.max('seq').as('seq'))
        .executeTakeFirst();
      through = last?.seq == null ? 0 : Number(last.seq);
    }
    const mark = await this.prunedThrough();
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
