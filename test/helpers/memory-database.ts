// A migrated in-memory SQLite database with one user, alice (id 1), for tests of the database
// code itself.
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect, type KyselyConfig } from 'kysely';
import type { Database } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import type { Tables } from '../../src/db/schema.js';

export async function memoryDatabaseWithAlice(log?: KyselyConfig['log']): Promise<{ connection: SQLite.Database; db: Kysely<Tables> }> {
  const connection = new SQLite(':memory:');
  const db = new Kysely<Tables>({ dialect: new SqliteDialect({ database: connection }), ...(log ? { log } : {}) });
  const database: Database = { kind: 'sqlite', db, ping: async () => undefined, close: () => db.destroy() };
  await migrateToLatest(database);
  await db
    .insertInto('users')
    .values({ username: 'alice', username_key: 'alice', email: 'alice@example.org', email_key: 'alice@example.org', password_hash: 'x', date_joined: 0 })
    .execute();
  return { connection, db };
}
