// Opens the one Kysely query layer over SQLite (better-sqlite3) or PostgreSQL (pg).
// Dialect differences stay in this folder; repositories write one query for both.
import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql, type SqliteDatabase } from 'kysely';
import { LRUCache } from 'lru-cache';
import pg from 'pg';
import { FALLBACK_CHECKPOINT_PAGES, startCheckpointer } from './checkpointer.js';
import type { Tables } from './schema.js';

export type DatabaseKind = 'sqlite' | 'postgres';

export type DatabaseConfig = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

export interface Database {
  readonly kind: DatabaseKind;
  readonly db: Kysely<Tables>;
  /** Throws when the database does not answer (used by /readyz). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

const INT8_OID = 20;

export function openDatabase(config: DatabaseConfig, options: { poolSize?: number } = {}): Database {
  return config.kind === 'sqlite' ? openSqlite(config.path) : openPostgres(config.url, options.poolSize ?? 10);
}

function openSqlite(path: string): Database {
  const file = path === ':memory:' ? path : resolve(path);
  if (file !== ':memory:') ownerOnlyFiles(file);
  const connection = new SQLite(file);
  // First, so that every later statement (switching to WAL included) waits for a lock
  // another process holds instead of failing with "database is locked".
  connection.pragma('busy_timeout = 10000');
  // Only takes effect on a new database (before its first table). Each message dirties a leaf of
  // three scattered indexes, and a commit writes every dirty page whole to the WAL: smaller pages
  // cut what a send writes (measured on a batch of 35 at 300,000 messages: 51 µs per message
  // on the event loop instead of 60, with the checkpoint 2 µs dearer in its worker).
  connection.pragma('page_size = 2048');
  connection.pragma('journal_mode = WAL');
  // NORMAL is durable against a process crash in WAL mode, which is what kill -9 tests.
  connection.pragma('synchronous = NORMAL');
  connection.pragma('foreign_keys = ON');
  // A deleted message's ciphertext must not linger in free pages of the file.
  connection.pragma('secure_delete = ON');
  // A group commit's multi-row inserts keep a statement journal (to undo one statement alone),
  // which past 64 KiB spills to a temporary file: a write syscall per page it holds, a fifth to
  // a quarter of the write path's time (bench/README). In memory it costs those pages' copies;
  // the other temporary structures (a sort without an index) are as small as their queries.
  connection.pragma('temp_store = MEMORY');
  // Checkpoints run in a worker (see checkpointer.ts); an in-memory database has no WAL.
  const checkpointer = file === ':memory:' ? undefined : startCheckpointer(file);
  if (checkpointer) connection.pragma(`wal_autocheckpoint = ${FALLBACK_CHECKPOINT_PAGES}`);
  const db = new Kysely<Tables>({ dialect: new SqliteDialect({ database: withStatementCache(connection) }) });
  return {
    kind: 'sqlite',
    db,
    ping: async () => {
      await sql`select 1`.execute(db);
    },
    close: async () => {
      // The worker's connection goes first: the last one to close checkpoints and removes the WAL.
      await checkpointer?.stop();
      await db.destroy();
    },
  };
}

/**
 * The database holds password hashes and sealed messages. SQLite gives its -wal and -shm files
 * the database file's mode, so creating that file 0600 before SQLite does covers all three; an
 * existing database (earlier versions made it 0644) and any WAL left by a crash are made 0600 too.
 */
function ownerOnlyFiles(file: string): void {
  mkdirSync(dirname(file), { recursive: true });
  closeSync(openSync(file, 'a', 0o600));
  for (const path of [file, `${file}-wal`, `${file}-shm`]) {
    try {
      if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
    } catch (error) {
      // Absent, or just removed: another process closing the database takes its WAL away.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}

// Kysely prepares every query it runs, and better-sqlite3 compiles at every prepare: reusing the
// compiled statement of an identical SQL text saves that work on every hot query. better-sqlite3
// runs one statement at a time and resets it after run() and all(), so reuse is safe; the cache
// keeps the most recently used texts only.
const STATEMENT_CACHE_SIZE = 500;

// SQLite rolls a transaction back by itself when a statement fails for a full disk or an I/O
// error; Kysely's own rollback then fails ("no transaction is active") and its error replaces the
// one that says what happened, which the API answers 503 and the log must show.
const NOTHING_TO_ROLL_BACK = { reader: false, run: () => ({ changes: 0, lastInsertRowid: 0 }) } as unknown as SQLite.Statement;

function withStatementCache(connection: SQLite.Database): SqliteDatabase {
  const statements = new LRUCache<string, SQLite.Statement>({ max: STATEMENT_CACHE_SIZE });
  return {
    close: () => connection.close(),
    prepare: (text: string) => {
      if (text === 'rollback' && !connection.inTransaction) return NOTHING_TO_ROLL_BACK;
      let statement = statements.get(text);
      if (!statement) statements.set(text, (statement = connection.prepare(text)));
      return statement;
    },
  };
}

function openPostgres(url: string, poolSize: number): Database {
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    connectionTimeoutMillis: 5000,
    // Timestamps and ids are int8; they fit in a JS number, so read them as numbers.
    types: { getTypeParser: ((oid: number, format?: 'text' | 'binary') => (oid === INT8_OID ? Number : pg.types.getTypeParser(oid, format))) as typeof pg.types.getTypeParser },
  });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  // Nor one checked out between two queries (a transaction's), which the pool no longer listens
  // to: its next query fails instead (answered 503), and the pool discards it on release.
  pool.on('connect', (client) => client.on('error', () => undefined));
  const db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) });
  return {
    kind: 'postgres',
    db,
    ping: async () => {
      await sql`select 1`.execute(db);
    },
    close: () => db.destroy(),
  };
}
