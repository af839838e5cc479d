// A full disk on SQLite: the write fails with SQLite's own SQLITE_FULL, which the API answers 503
// `unavailable`, and not with the error of a rollback SQLite had already done by itself.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/database.js';
import { isStoreUnavailable } from '../../src/db/unavailable.js';

let database: Database | undefined;
let dir: string | undefined;

afterEach(async () => {
  await database?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('fails a write on a full disk with SQLITE_FULL, answered as the store being unavailable', async () => {
  dir = mkdtempSync(join(tmpdir(), 'realchat-full-'));
  database = openDatabase({ kind: 'sqlite', path: join(dir, 'full.db') });
  const { db } = database;
  await sql`create table filler (body text)`.execute(db);
  // The file may not grow past the pages it has: what a full disk does to SQLite.
  const { rows } = await sql<{ page_count: number }>`pragma page_count`.execute(db);
  await sql.raw(`pragma max_page_count = ${rows[0]!.page_count + 2}`).execute(db);

  const failure = await db
    .transaction()
    .execute(async (trx) => {
      for (let n = 0; n < 50; n++) await sql`insert into filler (body) values (${'x'.repeat(4000)})`.execute(trx);
    })
    .then(
      () => undefined,
      (error: unknown) => error,
    );
  expect((failure as { code?: string }).code).toBe('SQLITE_FULL');
  expect(isStoreUnavailable(failure)).toBe(true);
  // And the connection goes on: the next transaction works once there is room.
  await sql.raw('pragma max_page_count = 1000000').execute(db);
  await db.transaction().execute(async (trx) => {
    await sql`insert into filler (body) values ('fits')`.execute(trx);
  });
});
