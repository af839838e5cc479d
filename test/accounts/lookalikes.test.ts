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
  /**
   * A database migrated up to (not including) `before`, with these users (and the skeletons the
   * older versions gave them); then the app on it, migrated to the latest version.
   */
  async function appOverOldUsers(before: string, users: { username: string; skeleton?: string }[], run: (url: string) => Promise<void>): Promise<void> {
    const dir = mkdtempSync(join(tmpdir(), 'realchat-lookalikes-'));
    const postgres = kind === 'postgres' ? await createPostgresSchema() : undefined;
    const databaseUrl = postgres ? postgres.url : `sqlite:${join(dir, 'realchat.db')}`;
    const old = openDatabase(postgres ? { kind: 'postgres', url: postgres.url } : { kind: 'sqlite', path: join(dir, 'realchat.db') });
    await migrateToLatest(old, migrations.filter((migration) => migration.name < before));
    const passwordHash = await hashPassword(PASSWORD);
    for (const [index, { username, skeleton }] of users.entries()) {
      const user = await old.db
        .insertInto('users')
        .values({
          username,
          username_key: username.toLowerCase(),
          ...(skeleton !== undefined ? { username_skeleton: skeleton } : {}),
          email: `u${index}@example.org`,
          email_key: `u${index}@example.org`,
          password_hash: passwordHash,
          date_joined: 0,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      await old.db.insertInto('profiles').values({ user_id: user.id, phone_number: null, phone_verified: 0 }).execute();
    }
    await old.close();

    const app = await startTestApp({ env: { DATABASE_URL: databaseUrl } });
    try {
      await run(app.url);
    } finally {
      await app.destroy();
      await postgres?.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  }

  const register = (url: string, username: string) => call(url, 'POST', '/accounts/register/', { username, email: `${username}@example.org`, password: PASSWORD });

  it('keep logging in, look-alike names included', async () => {
    const names = ['alice', '\u0430lice', 'AIice'];
    await appOverOldUsers(
      '0007',
      names.map((username) => ({ username })),
      async (url) => {
        for (const username of names) {
          expect((await call(url, 'POST', '/accounts/login/', { username, password: PASSWORD })).status, username).toBe(200);
        }
        expect((await register(url, 'a1ice')).status).toBe(409);
      },
    );
  });

  it('with the small palochka get the skeleton of the `l` it is drawn as, unless an older name holds it', async () => {
    // 0007 gave them the skeletons of `i` (TS #39's data): `paypai` and `aii`.
    const palochkaNames = [
      { username: '\u0440\u0430\u0443\u0440\u0430\u04CF', skeleton: 'paypai' },
      { username: '\u0430\u04CF\u04CF', skeleton: 'aii' },
    ];
    await appOverOldUsers('0013', [{ username: 'paypal', skeleton: 'paypal' }, ...palochkaNames], async (url) => {
      for (const { username } of [{ username: 'paypal' }, ...palochkaNames]) {
        expect((await call(url, 'POST', '/accounts/login/', { username, password: PASSWORD })).status, username).toBe(200);
      }
      expect((await register(url, 'all')).status).toBe(409);
      expect((await register(url, 'paypaI')).status).toBe(409);
      // The one whose `l` skeleton paypal holds keeps none: its old one is free.
      expect((await register(url, 'paypai')).status).toBe(201);
    });
  });
});
