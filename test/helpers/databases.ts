// Runs a suite once per database: SQLite always, PostgreSQL when TEST_DATABASE_URL is set
// (each app gets a schema of its own, dropped afterwards, so suites can run in parallel).
import { randomBytes } from 'node:crypto';
import { describe } from 'vitest';
import pg from 'pg';

export type DatabaseKind = 'sqlite' | 'postgres';

export const postgresUrl = process.env.TEST_DATABASE_URL;
export const redisUrl = process.env.TEST_REDIS_URL;

export function describeEachDatabase(name: string, suite: (kind: DatabaseKind) => void): void {
  describe(`${name} [sqlite]`, () => suite('sqlite'));
  const title = postgresUrl ? `${name} [postgres]` : `${name} [postgres] (skipped: set TEST_DATABASE_URL to run)`;
  describe.skipIf(!postgresUrl)(title, () => suite('postgres'));
}

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/** A fresh PostgreSQL schema, reached through search_path in the connection URL. */
export async function createPostgresSchema(): Promise<TestDatabase> {
  if (!postgresUrl) throw new Error('TEST_DATABASE_URL is not set');
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: postgresUrl });
  await admin.connect();
  await admin.query(`create schema ${schema}`);
  await admin.end();
  const url = new URL(postgresUrl);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: postgresUrl });
      await client.connect();
      await client.query(`drop schema if exists ${schema} cascade`);
      await client.end();
    },
  };
}
