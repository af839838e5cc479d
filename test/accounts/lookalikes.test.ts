// Look-alike usernames (Unicode TS #39): one script per name, one name per confusable skeleton.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { hashPassword } from '../../src/accounts/passwords.js';
import { openDatabase } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { migrations } from '../../src/db/migrations/index.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { createPostgresSchema, describeEachDatabase, type DatabaseKind } from '../helpers/databases.js';
import { call } from '../helpers/http.js';

const PASSWORD = 'a long and quiet river';

function register(url: string, username: string) {
  return call(url, 'POST', '/accounts/register/', { username, email: `${encodeURIComponent(username)}@example.org`.replaceAll('%', 'x'), password: PASSWORD });
}

describeEachDatabase('look-alike usernames', (database) => {
  let app: TestApp;
  let url: string;

  beforeAll(async () => {
    app = await startTestApp({ database });
    url = app.url;
  });
  afterAll(() => app.destroy());

  it('refuses a username that mixes scripts', async () => {
    // The first letter is Cyrillic.
    const response = await register(url, '\u0430lice');
    expect(response.status).toBe(400);
    expect(response.body.code).toBe('validation_error');
    expect(Object.keys(response.body.fields)).toEqual(['username']);
  });

  it('refuses a username that looks like an existing one', async () => {
    for (const [existing, lookalike] of [
      ['lookalike', 'l00kalike'],
      ['ape', '\u0430\u0440\u0435'],
      ['Alicia', 'AIicia'],
    ]) {
      expect((await register(url, existing!)).status).toBe(201);
      const response = await register(url, lookalike!);
      expect(response.status, lookalike).toBe(409);
      expect(response.body.code).toBe('username_taken');
      expect(Object.keys(response.body.fields)).toEqual(['username']);
    }
  });

  it('accepts names written in one script, and Japanese mixing its own scripts', async () => {
    for (const name of ['Ελένη', 'Мария', 'やまだ太郎', 'Zoë_2.x-y']) {
      expect((await register(url, name)).status, name).toBe(201);
    }
  });
});

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
      expect((await register(app.url, 'a1ice')).status).toBe(409);
    } finally {
      await app.destroy();
      await postgres?.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
