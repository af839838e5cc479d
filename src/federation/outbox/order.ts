// The order of the outbox per receiver, in SQL: an entry is first in line when no earlier entry of
// its receiver is left, and the end of one makes the next due (it waited with next_attempt_at =
// WAITING_BEHIND_EARLIER, so that a claim reads due entries alone, however long a backlog grows).
import { sql, type ExpressionBuilder, type Transaction } from 'kysely';
import type { OutboxTable, Tables } from '../../db/schema.js';

/** next_attempt_at of an entry that waits for an earlier one of its receiver to end. */
export const WAITING_BEHIND_EARLIER = Number.MAX_SAFE_INTEGER;

/** No earlier entry of the same receiver is in the outbox: entry `o` is first in line. */
export function firstInLine({ not, exists, selectFrom }: ExpressionBuilder<Tables & { o: OutboxTable }, 'o'>) {
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
export async function releaseNext(trx: Transaction<Tables>, receiverKeys: string[], now: number): Promise<void> {
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
