// A group as large as GROUP_MAX_MEMBERS allows (up to 10,000): its thousands of member rows, and
// the feed entries each change gives every member, exceed what one SQL statement can bind
// (SQLite takes 32,766 values): they are written in several, and the group works end to end.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { hashPassword } from '../../src/accounts/passwords.js';
import { openDatabase } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { migrations } from '../../src/db/migrations/index.js';
import { startTestApp } from '../helpers/app.js';
import { createPostgresSchema, describeEachDatabase } from '../helpers/databases.js';
import { call } from '../helpers/http.js';

const PASSWORD = 'a long and quiet river';
const MEMBERS = 6_000;

describeEachDatabase('a group of thousands', (kind) => {
  it(`is created with ${MEMBERS} members, gets messages, and tells every member of a change`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'realchat-large-group-'));
    const postgres = kind === 'postgres' ? await createPostgresSchema() : undefined;
    const databaseUrl = postgres ? postgres.url : `sqlite:${join(dir, 'realchat.db')}`;
    const names = Array.from({ length: MEMBERS }, (_, index) => `member${index}`);
    // Registered through the API, thousands of users would take minutes of password hashing.
    const seeding = openDatabase(postgres ? { kind: 'postgres', url: postgres.url } : { kind: 'sqlite', path: join(dir, 'realchat.db') });
    await migrateToLatest(seeding, migrations);
    const passwordHash = await hashPassword(PASSWORD);
    for (let start = 0; start < MEMBERS; start += 500) {
      const users = await seeding.db
        .insertInto('users')
        .values(names.slice(start, start + 500).map((username) => ({ username, username_key: username, username_skeleton: username, email: `${username}@example.org`, email_key: `${username}@example.org`, password_hash: passwordHash, date_joined: 0 })))
        .returning('id')
        .execute();
      await seeding.db.insertInto('profiles').values(users.map((user) => ({ user_id: user.id, phone_number: null, phone_verified: 0 }))).execute();
    }
    await seeding.close();

    const app = await startTestApp({ env: { DATABASE_URL: databaseUrl, GROUP_MAX_MEMBERS: '10000', BODY_LIMIT: '256kb' } });
    try {
      const login = async (username: string) => ({ token: (await call<{ token: string }>(app.url, 'POST', '/accounts/login/', { username, password: PASSWORD })).body.token });
      const [owner, last] = [await login(names[0]!), await login(names.at(-1)!)];
      const created = await call<{ id: string; members: unknown[] }>(app.url, 'POST', '/accounts/groups/', { name: 'Everyone', members: names.slice(1) }, owner);
      expect(created.status).toBe(201);
      expect(created.body.members).toHaveLength(MEMBERS);

      const sent = await call(app.url, 'POST', '/accounts/send-message/', { group: created.body.id, message: 'hello, everyone' }, owner);
      expect(sent.status).toBe(201);
      const history = await call<{ results: { message: string }[] }>(app.url, 'GET', `/accounts/messages/?group=${created.body.id}`, undefined, last);
      expect(history.body.results.map((message) => message.message)).toEqual(['hello, everyone']);

      const renamed = await call(app.url, 'PATCH', `/accounts/groups/${created.body.id}/`, { name: 'All of us' }, owner);
      expect(renamed.status).toBe(200);
      const feed = await call<{ results: { type: string; group?: { name: string } }[] }>(app.url, 'GET', '/accounts/events/?after=0', undefined, last);
      expect(feed.body.results.filter((entry) => entry.type === 'group').at(-1)?.group?.name).toBe('All of us');
    } finally {
      await app.destroy();
      await postgres?.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
