// Users registered before look-alike checks (Unicode TS #39) existed keep their names and logins.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { hashPassword } from '../../src/accounts/passwords.js';
import { openDatabase } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { migrations } from '../../src/db/migrations/index.js';
import { startTestApp } from '../helpers/app.js';
import { createPostgresSchema, describeEachDatabase, type DatabaseKind } from '../helpers/databases.js';
import { call } from '../helpers/http.js';

const PASSWORD = 'a long and quiet river';

describeEachDatabase('users from before look-alike checks', (kind: DatabaseKind) => {
  it('keep logging in, look-alike names included', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'realchat-lookalikes-'));
    const postgres = kind === 'postgres' ? await createPostgresSchema() : undefined;
    const databaseUrl = postgres ? postgres.url : `sqlite:${join(dir, 'realchat.db')}`;
    const old = openDatabase(postgres ? { kind: 'postgres', url: postgres.url } : { kind: 'sqlite', path: join(dir, 'realchat.db') });
    await migrateToLatest(old, migrations.filter((migration) => migration.name < '0007'));
    const names = ['alice', '\u0430lice', 'AIice'];
    const passwordHash = await hashPassword(PASSWORD);
    for (const [index, username] of names.entries()) {
      const user = await old.db
        .insertInto('users')
        .values({ username, username_key: username.toLowerCase(), email: `u${index}@example.org`, email_key: `u${index}@example.org`, password_hash: passwordHash, date_joined: 0 })
        .returning('id')
        .executeTakeFirstOrThrow();
      await old.db.insertInto('profiles').values({ user_id: user.id, phone_number: null, phone_verified: 0 }).execute();
    }
    await old.close();

    const app = await startTestApp({ env: { DATABASE_URL: databaseUrl } });
    try {
      for (const username of names) {
        expect((await call(app.url, 'POST', '/accounts/login/', { username, password: PASSWORD })).status, username).toBe(200);
      }
      expect((await call(app.url, 'POST', '/accounts/register/', { username: 'a1ice', email: 'a1ice@example.org', password: PASSWORD })).status).toBe(409);
    } finally {
      await app.destroy();
      await postgres?.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
