// Reserving ids of an auto-increment table before inserting, for rows whose content depends on
// their own id (messages sealed with it as associated data): one statement per batch instead of
// an insert and an update per row. The two databases differ here, so it lives in db/.
import { sql, type Kysely, type Transaction } from 'kysely';
import type { DatabaseKind } from './database.js';
import type { Tables } from './schema.js';

/**
 * The next `count` ids of `table`, in order. On SQLite it is the transaction's first write (so
 * it holds the write lock from there on) and it advances the AUTOINCREMENT counter, which
 * explicit ids keep right; on PostgreSQL it draws from the identity's sequence.
 */
export async function reserveIds(trx: Transaction<Tables>, kind: DatabaseKind, table: 'messages', count: number): Promise<number[]> {
  if (count === 0) return [];
  let last: number;
  if (kind === 'postgres') {
    const drawn = await sql<{ id: number }>`select nextval(pg_get_serial_sequence(${table}, 'id')) as id from generate_series(1, ${count})`.execute(trx);
    return drawn.rows.map((row) => Number(row.id)).sort((a, b) => a - b);
  }
  const advanced = await sql<{ seq: number }>`update sqlite_sequence set seq = seq + ${count} where name = ${table} returning seq`.execute(trx);
  if (advanced.rows.length > 0) last = Number(advanced.rows[0]!.seq);
  else {
    // No row has ever been inserted: the counter starts from what the table holds.
    const top = await sql<{ top: number | null }>`select max(id) as top from ${sql.table(table)}`.execute(trx);
    last = Number(top.rows[0]?.top ?? 0) + count;
    await sql`insert into sqlite_sequence (name, seq) values (${table}, ${last})`.execute(trx);
  }
  return Array.from({ length: count }, (_, index) => last - count + index + 1);
}

/** The last id of `table` reserved so far (committed or not), 0 before the first. */
export async function lastReservedId(db: Kysely<Tables>, kind: DatabaseKind, table: 'messages'): Promise<number> {
  const found =
    kind === 'postgres'
      ? await sql<{ last: number | null }>`select last_value as last from pg_sequences where format('%I.%I', schemaname, sequencename) = pg_get_serial_sequence(${table}, 'id')`.execute(db)
      : await sql<{ last: number | null }>`select seq as last from sqlite_sequence where name = ${table}`.execute(db);
  return Number(found.rows[0]?.last ?? 0);
}
