// The write side of the change feed. A user's feed is their messages (each one's seq is its id)
// and the rows of `events` (edits, deletes, read markers, status changes), whose seqs are drawn
// from the same counter as message ids, in the transaction of the change they record. A new
// message thus costs the feed no row of its own. On PostgreSQL every such transaction first
// takes one transaction-scoped advisory lock, so they commit one after another in the order
// their numbers were drawn: a reader that sees seq N has already been able to see every seq
// below it. (SQLite has a single writer, which gives the same order by itself.)
import { sql, type Transaction } from 'kysely';
import type { DatabaseKind } from '../db/database.js';
import { reserveIds } from '../db/ids.js';
import { insertRows } from '../db/insert-rows.js';
import type { Tables } from '../db/schema.js';

export type EventType = 'message' | 'message_updated' | 'read' | 'status';

/**
 * An event for one user: a new message (`message`, its row is the event), an event about a
 * message (its state is read with the event), or data.
 */
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

/**
 * Records the changes (a `message` change names a message inserted in this transaction); the
 * answer is in their order. Must run after lockChanges, in the same transaction.
 */
export async function recordChanges(trx: Transaction<Tables>, kind: DatabaseKind, changes: Change[], now: number): Promise<Recorded[]> {
  if (changes.length === 0) return [];
  const stored = changes.filter((change) => change.type !== 'message');
  const drawn = await reserveIds(trx, kind, 'messages', stored.length);
  let next = 0;
  const seqs = changes.map((change) => (change.type === 'message' ? change.messageId! : drawn[next++]!));
  if (stored.length > 0) {
    const rows = changes.flatMap((change, index) =>
      change.type === 'message'
        ? []
        : [{ seq: seqs[index]!, user_id: change.userId, type: change.type, message_id: change.messageId, data: change.data ? JSON.stringify(change.data) : null, created_at: now }],
    );
    await insertRows(trx, kind, 'events', rows);
  }

  // Each user's latest seq before this transaction's, read under the lock, so that `prev`
  // chains every event of a user (this transaction's numbers are above every committed one).
  const below = Math.min(...seqs);
  const users = [...new Set(changes.map((change) => change.userId))];
  const heads = await trx
    .selectFrom('users as u')
    .select((eb) => [
      'u.id as userId',
      eb.selectFrom('events as e').select((inner) => inner.fn.max('e.seq').as('seq')).whereRef('e.user_id', '=', 'u.id').where('e.seq', '<', below).as('event'),
      eb.selectFrom('messages as m').select((inner) => inner.fn.max('m.id').as('id')).whereRef('m.sender_user_id', '=', 'u.id').where('m.id', '<', below).as('sent'),
      eb.selectFrom('messages as m').select((inner) => inner.fn.max('m.id').as('id')).whereRef('m.receiver_user_id', '=', 'u.id').where('m.id', '<', below).as('received'),
    ])
    .where('u.id', 'in', users)
    .execute();
  const last = new Map(heads.map((row) => [Number(row.userId), Math.max(Number(row.event ?? 0), Number(row.sent ?? 0), Number(row.received ?? 0))]));
  const recorded: Recorded[] = new Array(changes.length);
  for (const index of changes.map((_, i) => i).sort((a, b) => seqs[a]! - seqs[b]!)) {
    const { userId } = changes[index]!;
    recorded[index] = { userId, seq: seqs[index]!, prev: last.get(userId) ?? 0 };
    last.set(userId, seqs[index]!);
  }
  return recorded;
}
