// A database as release 2.0.0 left it, rebuilt from test/fixtures/release-2.0/database.json:
// that release's schema (the migrations through its last), its rows as stored, its id counters.
import { readFileSync } from 'node:fs';
import { sql } from 'kysely';
import { openDatabase, type DatabaseConfig } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import type { AnyDatabase } from '../../src/db/migrations/migration.js';
import { migrations } from '../../src/db/migrations/index.js';

const FIXTURE_DIR = new URL('../fixtures/release-2.0/', import.meta.url);

/** The last migration release 2.0.0 shipped: its schema is the one the fixture's rows fit. */
export const RELEASE_2_0_LAST_MIGRATION = '0008_receipt_pruning';

type Row = Record<string, unknown>;

export interface DatabaseFixture {
  release: { version: string; commit: string };
  /** When the fixture was recorded (epoch ms): the test's clock resumes from there. */
  recordedAt: number;
  keys: { serverName: string; encryptionKey: string; storageKey: string; peers: Array<{ name: string; key: string }> };
  /** The migrations applied to the recorded database. */
  migrations: string[];
  /** SQLite's AUTOINCREMENT counters, by table. */
  sequences: Record<string, number>;
  /** Every table but schema_migrations, in creation order (so parents come before children). */
  tables: Array<{ table: string; rows: Row[] }>;
}

export interface Exchange {
  path: string;
  status: number;
  body: unknown;
}

export interface AnswersFixture {
  recordedAt: number;
  notes: {
    password: string;
    repeatedRequest: { peer: string; id: string; sender: string; receiver: string; text: string };
    queued: { id: number; receiver: string; text: string };
  };
  /** Per user of the backend, the GET requests a client makes and what 2.0.0 answered. */
  answers: Record<string, Exchange[]>;
}

export function readFixture<T>(name: 'database.json' | 'answers.json'): T {
  return JSON.parse(readFileSync(new URL(name, FIXTURE_DIR), 'utf8')) as T;
}

/** The migrations of release 2.0.0, by name: a later list keeps them first and unchanged. */
export function releaseMigrations() {
  const last = migrations.findIndex((migration) => migration.name === RELEASE_2_0_LAST_MIGRATION);
  if (last === -1) throw new Error(`migration ${RELEASE_2_0_LAST_MIGRATION} is gone: release 2.0.0's schema cannot be rebuilt`);
  return migrations.slice(0, last + 1);
}

const INSERT_CHUNK = 100;

/** Writes the fixture's database into an empty one at release 2.0.0's schema. */
export async function restoreRelease(config: DatabaseConfig, fixture: DatabaseFixture): Promise<void> {
  const database = openDatabase(config);
  try {
    await migrateToLatest(database, releaseMigrations());
    // The rows are 2.0.0's, whatever the table types of this version say.
    const db = database.db as unknown as AnyDatabase;
    await db.transaction().execute(async (trx) => {
      for (const { table, rows } of fixture.tables) {
        // Migrations seed some tables (event_log_state): the fixture's rows replace theirs.
        await trx.deleteFrom(table).execute();
        for (let start = 0; start < rows.length; start += INSERT_CHUNK) {
          const chunk = rows.slice(start, start + INSERT_CHUNK).map((row) => (database.kind === 'postgres' ? wholeNumbers(row) : row));
          await trx.insertInto(table).values(chunk).execute();
        }
      }
      for (const [table, value] of Object.entries(fixture.sequences)) {
        if (database.kind === 'sqlite') {
          // Inserting explicit ids moved the counters to the largest id; 2.0.0 had drawn further (events' seqs come from messages').
          await sql`update sqlite_sequence set seq = ${value} where name = ${table}`.execute(trx);
        } else {
          const identity = await sql<{ column_name: string }>`select column_name from information_schema.columns where table_schema = current_schema() and table_name = ${table} and is_identity = 'YES'`.execute(trx);
          await sql`select setval(pg_get_serial_sequence(${table}, ${identity.rows[0]!.column_name}), ${value})`.execute(trx);
        }
      }
    });
  } finally {
    await database.close();
  }
}

/**
 * SQLite keeps a fraction where 2.0.0 wrote one into a bigint column (an outbox retry time with
 * its jitter); PostgreSQL cannot hold it, so there the value is the next whole millisecond.
 */
function wholeNumbers(row: Row): Row {
  return Object.fromEntries(Object.entries(row).map(([column, value]) => [column, typeof value === 'number' && !Number.isInteger(value) ? Math.ceil(value) : value]));
}

/**
 * An exchange of release 2.0.0 as this version answers it: its body with the group fields, and
 * 405 with DRF's words where 2.0.0 answered a GET of a path that takes only POST 404.
 */
export function answeredNow(exchange: Exchange): { status: number; body: unknown } {
  if (exchange.status === 404 && exchange.path === '/accounts/receive-message/') {
    return { status: 405, body: { detail: 'Method "GET" not allowed.', code: 'method_not_allowed' } };
  }
  return { status: exchange.status, body: withGroupFields(exchange.body) };
}

/**
 * An answer of release 2.0.0 as this version gives it: groups added a `group` field to messages
 * and to conversations rows, null for every direct one, and changed nothing else.
 */
function withGroupFields(body: unknown): unknown {
  if (Array.isArray(body)) return body.map(withGroupFields);
  if (body === null || typeof body !== 'object') return body;
  const object = Object.fromEntries(Object.entries(body).map(([key, value]) => [key, withGroupFields(value)]));
  const isMessage = 'sender' in object && 'receiver' in object && 'timestamp' in object;
  const isConversation = 'with' in object && 'last_message' in object;
  return isMessage || isConversation ? { ...object, group: null } : object;
}
