// Multi-row inserts compiled once per shape (see query-shapes.ts): a group commit's inserts cost
// more of the event loop to build than SQLite spent running them. Their SQL depends only on the
// table, the columns, the number of rows and the clauses after the values. On SQLite each text is
// also a statement compiled and kept (database.ts): a 200-row insert costs about 0.3 ms to
// compile and 0.2 MB kept, so the rows go in chunks whose sizes are powers of two.
import type { Compilable, Insertable, InsertQueryBuilder, InsertResult, Kysely, QueryResult } from 'kysely';
import type { DatabaseKind } from './database.js';
import { executeShaped } from './query-shapes.js';
import type { Tables } from './schema.js';

/** Clauses after the values (on conflict, returning): module-level functions, holding no values. */
export type InsertFinish<T extends keyof Tables, O> = (insert: InsertQueryBuilder<Tables, T, InsertResult>) => Compilable<O>;

/**
 * The most rows one statement inserts: under SQLite's limit of 32,766 values and PostgreSQL's of
 * 65,535 at the width of the tables here (fourteen columns at most), so that a group's thousands
 * of members go in several statements.
 */
const LARGEST_CHUNK: Record<DatabaseKind, number> = { sqlite: 128, postgres: 2_048 };

/** The clauses after the values are module-level functions: each is numbered once, for the shape. */
const finishIds = new WeakMap<object, number>();
let lastFinishId = 0;

/**
 * Inserts `rows`, which all name the same columns, into `table` of a database of `kind`, with
 * `finish`'s clauses, in order; resolves with the rows the statements return.
 */
export async function insertRows<T extends keyof Tables & string, O = InsertResult>(
  executor: Kysely<Tables>,
  kind: DatabaseKind,
  table: T,
  rows: Insertable<Tables[T]>[],
  finish?: InsertFinish<T, O>,
): Promise<QueryResult<O>> {
  const columns = Object.keys(rows[0]!);
  const returned: O[] = [];
  let start = 0;
  for (const size of chunkSizes(rows.length, kind)) {
    const { rows: chunkReturned } = await insertChunk(executor, kind, table, columns, rows.slice(start, (start += size)), finish);
    returned.push(...chunkReturned);
  }
  return { rows: returned };
}

/**
 * The sizes of the statements `count` rows go in, in order. On SQLite, powers of two, the largest
 * first: SQLite compiles and keeps a statement per SQL text, so a few texts serve every size of
 * batch. PostgreSQL parses every statement anyway: as few as its limit allows.
 */
export function chunkSizes(count: number, kind: DatabaseKind): number[] {
  const largest = LARGEST_CHUNK[kind];
  const sizes: number[] = [];
  for (let left = count; left > 0; left -= sizes.at(-1)!) {
    sizes.push(kind === 'sqlite' ? Math.min(largest, 2 ** Math.floor(Math.log2(left))) : Math.min(largest, left));
  }
  return sizes;
}

async function insertChunk<T extends keyof Tables & string, O>(
  executor: Kysely<Tables>,
  kind: DatabaseKind,
  table: T,
  columns: string[],
  rows: Insertable<Tables[T]>[],
  finish?: InsertFinish<T, O>,
): Promise<QueryResult<O>> {
  const values: unknown[] = [];
  for (const row of rows) {
    for (const column of columns) {
      const value = (row as Record<string, unknown>)[column];
      if (value === undefined) throw new TypeError(`insertRows: a row of ${table} has no value for ${column}`);
      values.push(value);
    }
  }
  const shape = `insert|${table}|${columns.join(',')}|${rows.length}|${finish ? finishIdOf(finish) : 0}`;
  return executeShaped(executor, kind, shape, values, (markers) => {
    const markerRows = rows.map((_, row) => Object.fromEntries(columns.map((column, c) => [column, markers[row * columns.length + c]])));
    const insert = executor.insertInto(table).values(markerRows as Insertable<Tables[T]>[]);
    return finish ? finish(insert) : insert;
  });
}

function finishIdOf(finish: object): number {
  let id = finishIds.get(finish);
  if (id === undefined) finishIds.set(finish, (id = ++lastFinishId));
  return id;
}
