// Multi-row inserts compiled once per shape (see query-shapes.ts): a group commit's inserts cost
// more of the event loop to build than SQLite spent running them. Their SQL depends only on the
// table, the columns, the number of rows and the clauses after the values.
import type { Compilable, Insertable, InsertQueryBuilder, InsertResult, Kysely, QueryResult } from 'kysely';
import type { DatabaseKind } from './database.js';
import { executeShaped } from './query-shapes.js';
import type { Tables } from './schema.js';

/** Clauses after the values (on conflict, returning): module-level functions, holding no values. */
export type InsertFinish<T extends keyof Tables, O> = (insert: InsertQueryBuilder<Tables, T, InsertResult>) => Compilable<O>;

/** The clauses after the values are module-level functions: each is numbered once, for the shape. */
const finishIds = new WeakMap<object, number>();
let lastFinishId = 0;

/**
 * Inserts `rows`, which all name the same columns, into `table` of a database of `kind`, with
 * `finish`'s clauses; resolves with what the query returns.
 */
export async function insertRows<T extends keyof Tables & string, O = InsertResult>(
  executor: Kysely<Tables>,
  kind: DatabaseKind,
  table: T,
  rows: Insertable<Tables[T]>[],
  finish?: InsertFinish<T, O>,
): Promise<QueryResult<O>> {
  const columns = Object.keys(rows[0]!);
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
