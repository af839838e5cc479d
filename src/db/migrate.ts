// Applies the versioned migrations in order, once, even when several processes start together:
// each run holds the database's own write lock (SQLite BEGIN IMMEDIATE, a PostgreSQL advisory
// lock) from reading the applied list to the last commit, so a second process waits, then finds
// nothing left to do. Kysely's Migrator takes no lock on SQLite, hence this small runner.
import { sql } from 'kysely';
import type { Database, DatabaseKind } from './database.js';
import { migrations } from './migrations/index.js';
import type { AnyDatabase, Migration } from './migrations/migration.js';

const MIGRATION_LOCK_ID = 726_301_2;

export async function migrateToLatest(database: Database, list: Migration[] = migrations): Promise<string[]> {
  if (database.kind === 'sqlite') {
    return database.db.connection().execute(async (connection) => {
      await sql`begin immediate`.execute(connection);
      try {
        const applied = await applyPending(connection, database.kind, list);
        await sql`commit`.execute(connection);
        return applied;
      } catch (error) {
        await sql`rollback`.execute(connection);
        throw error;
      }
    });
  }
  return database.db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(${MIGRATION_LOCK_ID})`.execute(trx);
    return applyPending(trx, database.kind, list);
  });
}

async function applyPending(db: AnyDatabase, kind: DatabaseKind, list: Migration[]): Promise<string[]> {
  await sql`create table if not exists schema_migrations (name varchar(255) primary key, applied_at bigint not null)`.execute(db);
  const rows = await sql<{ name: string }>`select name from schema_migrations`.execute(db);
  const done = new Set(rows.rows.map((row) => row.name));
  const applied: string[] = [];
  for (const migration of list) {
    if (done.has(migration.name)) continue;
    await migration.up(db, kind);
    await sql`insert into schema_migrations (name, applied_at) values (${migration.name}, ${Date.now()})`.execute(db);
    applied.push(migration.name);
  }
  return applied;
}
