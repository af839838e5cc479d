// The write side of the change feed: events are recorded in the transaction of the change they
// describe, and numbered by the database. On PostgreSQL every such transaction first takes one
// transaction-scoped advisory lock, so they commit one after another in the order their seqs
// were drawn: a reader that sees seq N has already been able to see every seq below it.
// (SQLite has a single writer, which gives the same order by itself.)
import { sql, type Transaction } from 'kysely';
import type { DatabaseKind } from '../db/database.js';
import type { Tables } from '../db/schema.js';

export type EventType = 'message' | 'message_updated' | 'read' | 'status';

/** An event to record for one user: about a message (its state is read with the event), or data. */
export interface Change {
  userId: number;
  type: EventType;
  messageId: number | null;
  /** Fields of the event other than `type`, `seq` and `message` (read markers, statuses). */
  data?: Record<string, unknown>;
}

/** Where a recorded event sits: its seq, and the seq of the user's event before it (0: none). */
export interface Recorded {
  userId: number;
  seq: number;
  prev: number;
}

// The same lock keeps message ids in commit order, which catch-up by ?after=<id> relies on.
// Advisory locks belong to the whole database: the schema's name is part of the key, so that
// backends in other schemas of the same database do not wait for each other.
const CHANGE_LOCK = 726_301_3;

/** Serializes the transactions that record events (PostgreSQL); call it first in the transaction. */
export async function lockChanges(trx: Transaction<Tables>, kind: DatabaseKind): Promise<void> {
  if (kind === 'postgres') await sql`select pg_advisory_xact_lock(${CHANGE_LOCK}, hashtext(current_schema()))`.execute(trx);
}

/** Records the changes; the answer is in their order. Must run after lockChanges in the same transaction. */
export async function recordChanges(trx: Transaction<Tables>, changes: Change[], now: number): Promise<Recorded[]> {
  if (changes.length === 0) return [];
  const users = [...new Set(changes.map((change) => change.userId))];
  // Each user's latest seq, read under the lock, so that `prev` chains every event of a user.
  const heads = await trx
    .selectFrom('users as u')
    .select((eb) => [
      'u.id as userId',
      eb
        .selectFrom('events as e')
        .select((inner) => inner.fn.max('e.seq').as('head'))
        .whereRef('e.user_id', '=', 'u.id')
        .as('head'),
    ])
    .where('u.id', 'in', users)
    .execute();
  const inserted = await trx
    .insertInto('events')
    .values(
      changes.map((change) => ({
        user_id: change.userId,
        type: change.type,
        message_id: change.messageId,
        data: change.data ? JSON.stringify(change.data) : null,
        created_at: now,
      })),
    )
    .returning(['seq', 'user_id', 'type', 'message_id', 'data'])
    .execute();

  // RETURNING promises no order: rows are matched back by content, lowest seq to the earliest change.
  const waiting = new Map<string, number[]>();
  changes.forEach((change, index) => {
    const key = changeKey(change.userId, change.type, change.messageId, change.data ? JSON.stringify(change.data) : null);
    waiting.set(key, [...(waiting.get(key) ?? []), index]);
  });
  const seqs: number[] = new Array(changes.length);
  for (const row of [...inserted].sort((a, b) => Number(a.seq) - Number(b.seq))) {
    const index = waiting.get(changeKey(Number(row.user_id), row.type, row.message_id === null ? null : Number(row.message_id), row.data))!.shift()!;
    seqs[index] = Number(row.seq);
  }
  const last = new Map(heads.map((row) => [Number(row.userId), row.head === null ? 0 : Number(row.head)]));
  const order = changes.map((_, index) => index).sort((a, b) => seqs[a]! - seqs[b]!);
  const recorded: Recorded[] = new Array(changes.length);
  for (const index of order) {
    const { userId } = changes[index]!;
    recorded[index] = { userId, seq: seqs[index]!, prev: last.get(userId) ?? 0 };
    last.set(userId, seqs[index]!);
  }
  return recorded;
}

function changeKey(userId: number, type: string, messageId: number | null, data: string | null): string {
  return `${userId}|${type}|${messageId ?? ''}|${data ?? ''}`;
}
