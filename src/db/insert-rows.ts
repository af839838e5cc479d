// Multi-row inserts compiled once per shape. Kysely builds a node for every value of every row
// and compiles the tree to SQL at each call; for a group commit's inserts that cost more of the
// event loop than SQLite spent running them (a tenth of a local send's CPU went to building the
// inserts of its batch). Their SQL depends only on the table, the columns, the number of rows
// and the clauses after the values: Kysely builds and compiles it once for each such shape,
// with a marker in place of every value, and later inserts of that shape bind their own values.
import { LRUCache } from 'lru-cache';
import { RawNode, type Compilable, type CompiledQuery, type Insertable, type InsertQueryBuilder, type InsertResult, type Kysely, type QueryResult } from 'kysely';
import type { DatabaseKind } from './database.js';
import type { Tables } from './schema.js';

/** Clauses after the values (on conflict, returning): module-level functions, holding no values. */
export type InsertFinish<T extends keyof Tables, O> = (insert: InsertQueryBuilder<Tables, T, InsertResult>) => Compilable<O>;

interface Shape {
  sql: string;
  query: RawNode;
}

// Shapes are few (a batch holds at most a few hundred rows); the bound only guards against misuse.
// A pure cache of compiled SQL, shared by every database of the process: it holds no values.
const compiledShapes = new LRUCache<string, Shape>({ max: 2_000 });
/** The clauses after the values are module-level functions: each is numbered once, for the key. */
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
  const parameters: unknown[] = [];
  for (const row of rows) {
    for (const column of columns) {
      const value = (row as Record<string, unknown>)[column];
      if (value === undefined) throw new TypeError(`insertRows: a row of ${table} has no value for ${column}`);
      parameters.push(value);
    }
  }
  const { sql, query } = shapeOf(executor, kind, table, columns, rows.length, finish);
  // The query id only keys the state of Kysely plugins, which this database has none of.
  const compiled: CompiledQuery<O> = { sql, parameters, query, queryId: { queryId: sql } };
  return executor.executeQuery(compiled);
}

function shapeOf<T extends keyof Tables & string, O>(executor: Kysely<Tables>, kind: DatabaseKind, table: T, columns: string[], count: number, finish?: InsertFinish<T, O>): Shape {
  const key = `${kind}|${table}|${columns.join(',')}|${count}|${finish ? finishIdOf(finish) : 0}`;
  let shape = compiledShapes.get(key);
  if (shape) return shape;
  const sql = compileShape(executor, table, columns, count, finish);
  shape = { sql, query: RawNode.createWithSql(sql) };
  compiledShapes.set(key, shape);
  return shape;
}

function finishIdOf(finish: object): number {
  let id = finishIds.get(finish);
  if (id === undefined) finishIds.set(finish, (id = ++lastFinishId));
  return id;
}

/** The SQL of the shape, checked to take exactly the rows' values, row by row and column by column. */
function compileShape<T extends keyof Tables & string, O>(executor: Kysely<Tables>, table: T, columns: string[], count: number, finish?: InsertFinish<T, O>): string {
  const markers = Array.from({ length: count * columns.length }, (_, index) => ({ index }));
  const markerRows = Array.from({ length: count }, (_, row) => Object.fromEntries(columns.map((column, c) => [column, markers[row * columns.length + c]])));
  const insert = executor.insertInto(table).values(markerRows as Insertable<Tables[T]>[]);
  const compiled = (finish ? finish(insert) : insert).compile();
  // A value anywhere else would be frozen into every later insert of the shape.
  const inOrder = compiled.parameters.length === markers.length && compiled.parameters.every((parameter, index) => parameter === markers[index]);
  if (!inOrder) throw new Error(`insertRows: the insert into ${table} binds values other than its rows'`);
  return compiled.sql;
}
