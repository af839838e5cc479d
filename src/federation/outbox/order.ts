// The order of the outbox per receiver, in SQL: an entry is first in line when no earlier entry of
// its line (its receiver, or its group, and the backend it goes to) is left, and the end of one makes the next due (it waited with next_attempt_at =
// WAITING_BEHIND_EARLIER, so that a claim reads due entries alone, however long a backlog grows).
import { sql, type ExpressionBuilder, type Transaction } from 'kysely';
import { paddedList } from '../../db/query-shapes.js';
import type { OutboxTable, Tables } from '../../db/schema.js';

/** next_attempt_at of an entry that waits for an earlier one of its receiver to end. */
export const WAITING_BEHIND_EARLIER = Number.MAX_SAFE_INTEGER;

/** No earlier entry of the same line is in the outbox: entry `o` is first in line. */
export function firstInLine({ not, exists, selectFrom }: ExpressionBuilder<Tables & { o: OutboxTable }, 'o'>) {
  return not(
    exists(
      selectFrom('outbox as e')
        .select(sql`1`.as('one'))
        .whereRef('e.receiver_key', '=', 'o.receiver_key')
        // A receiver's key names its backend; a group's line is one per backend.
        .whereRef('e.server', '=', 'o.server')
        .whereRef('e.id', '<', 'o.id'),
    ),
  );
}

/** One line of entries kept in order: a receiver's, or a group's to one backend. */
export interface Line {
  receiverKey: string;
  server: string;
}

/** Makes due the entry now first in line for each line, if it was waiting behind the ones that ended; answers whether any was. */
export async function releaseNext(trx: Transaction<Tables>, lines: Line[], now: number): Promise<boolean> {
  if (lines.length === 0) return false;
  // One min() per receiver, each a single step of the (receiver_key, id) index; a GROUP BY would
  // read every waiting entry of the receiver, at each end of one of them. Joined as raw SQL: a
  // query builder's union copies itself at each arm. The list is padded (a repeated arm finds the
  // same entry) so that a few texts serve every number of lines.
  const firsts = sql.join(
    paddedList(lines).map((line) => sql`select min(id) from outbox where receiver_key = ${line.receiverKey} and server = ${line.server}`),
    sql` union all `,
  );
  const released = await trx
    .updateTable('outbox')
    .set({ next_attempt_at: now })
    .where('next_attempt_at', '=', WAITING_BEHIND_EARLIER)
    .where('id', 'in', sql<number>`(${firsts})`)
    .executeTakeFirst();
  return Number(released.numUpdatedRows) > 0;
}
