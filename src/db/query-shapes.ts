// Queries compiled once per shape. Kysely builds a node for every value and compiles the tree to
// SQL at each call; for the statements of every group commit that cost more of the event loop
// than the database spent running them. A query's SQL depends only on its shape (its tables and
// clauses, how many values a list holds): Kysely builds and compiles it once per shape, with a
// marker in place of every value, and later calls bind their own values.
import { LRUCache } from 'lru-cache';
import { RawNode, type Compilable, type CompiledQuery, type Kysely, type QueryResult, type Transaction } from 'kysely';
import type { DatabaseKind } from './database.js';
import type { Tables } from './schema.js';

/** A stand-in for the value at `index` while a shape is compiled. */
export interface ValueMarker {
  readonly index: number;
}

interface Shape {
  sql: string;
  query: RawNode;
  /** For each parameter of the SQL, the index of the value it binds. */
  order: number[];
}

// Shapes are few (lists hold at most a batch's few hundred values); the bound only guards against misuse.
// A pure cache of compiled SQL, shared by every database of the process: it holds no values.
const compiledShapes = new LRUCache<string, Shape>({ max: 2_000 });

/**
 * Runs the query `build` makes of `values`, on a database of `kind`. `shape` names everything
 * besides the values that decides the SQL (`build` must depend on nothing else); `build` is
 * given markers in place of the values, and must bind each of them and no other value.
 */
export async function executeShaped<O>(
  executor: Kysely<Tables> | Transaction<Tables>,
  kind: DatabaseKind,
  shape: string,
  values: readonly unknown[],
  build: (markers: readonly ValueMarker[]) => Compilable<O>,
): Promise<QueryResult<O>> {
  const key = `${kind}|${shape}|${values.length}`;
  let compiled = compiledShapes.get(key);
  if (!compiled) compiledShapes.set(key, (compiled = compileShape(shape, values.length, build)));
  const { sql, query, order } = compiled;
  // The query id only keys the state of Kysely plugins, which this database has none of.
  const ready: CompiledQuery<O> = { sql, parameters: order.map((index) => values[index]), query, queryId: { queryId: sql } };
  return executor.executeQuery(ready);
}

/** The SQL of the shape, checked to bind every value and nothing else (a value bound by `build` itself would be frozen into every later call). */
function compileShape<O>(shape: string, count: number, build: (markers: readonly ValueMarker[]) => Compilable<O>): Shape {
  const markers: ValueMarker[] = Array.from({ length: count }, (_, index) => ({ index }));
  const known = new Set<unknown>(markers);
  const compiled = build(markers).compile();
  const order = compiled.parameters.map((parameter) => {
    if (!known.has(parameter)) throw new Error(`query shape ${shape}: binds values other than the ones it is given`);
    return (parameter as ValueMarker).index;
  });
  if (new Set(order).size !== count) throw new Error(`query shape ${shape}: leaves some of the values it is given unbound`);
  return { sql: compiled.sql, query: RawNode.createWithSql(compiled.sql), order };
}

/**
 * The list padded with its last value to a length that is a power of two. `in (…)` over it means
 * the same, and its SQL is one of a few texts: every distinct text is a statement SQLite compiles
 * and keeps (a batch's lists take every length up to a few hundred).
 */
export function paddedList<T>(values: readonly T[]): T[] {
  if (values.length === 0) throw new RangeError('paddedList: an empty list has no last value to pad with');
  const length = 2 ** Math.ceil(Math.log2(values.length));
  return [...values, ...Array<T>(length - values.length).fill(values.at(-1)!)];
}
