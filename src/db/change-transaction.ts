// The one way to write a change that gets a number from the shared counter (a message, a feed
// event): a transaction whose first statement takes the change lock. On PostgreSQL ids are handed
// out before commit, so without the lock a later id (or seq) could become visible before an
// earlier one, and a client catching up with ?after= would skip it for good. The lock is
// transaction-scoped and keyed by the schema, so backends in other schemas of one database do
// not wait for each other. (SQLite has a single writer, which gives the same order by itself.)
import { sql, type Kysely, type Transaction } from 'kysely';
import type { DatabaseKind } from './database.js';
import type { Tables } from './schema.js';

const CHANGE_LOCK = 726_301_3;

/** Runs `work` in a transaction that holds the change lock from its first statement. */
export async function withChangeLock<T>(db: Kysely<Tables>, kind: DatabaseKind, work: (trx: Transaction<Tables>) => Promise<T>): Promise<T> {
  return db.transaction().execute(async (trx) => {
    if (kind === 'postgres') await sql`select pg_advisory_xact_lock(${CHANGE_LOCK}, hashtext(current_schema()))`.execute(trx);
    return work(trx);
  });
}

/** Runs `work` on one snapshot (repeatable read), for reads that must agree with each other. */
export async function withSnapshot<T>(db: Kysely<Tables>, work: (trx: Transaction<Tables>) => Promise<T>): Promise<T> {
  return db.transaction().setIsolationLevel('repeatable read').execute(work);
}
