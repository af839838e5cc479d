// A database of the release before groups (its last migration 0009_conversations) migrates in
// place to 0010_groups: every row it held stays as it was (direct conversations at version 0,
// feed events naming no group), its users' answers stay those of release 2.0.0 but for the null
// `group`, and its users can make a group and talk in it beside their old conversations.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { openDatabase, type DatabaseConfig } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { migrations } from '../../src/db/migrations/index.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { createPostgresSchema, describeEachDatabase, type TestDatabase } from '../helpers/databases.js';
import { call } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { readFixture, restoreRelease, answeredNow, type AnswersFixture, type DatabaseFixture } from './release-2.0-database.js';

const fixture = readFixture<DatabaseFixture>('database.json');
const recorded = readFixture<AnswersFixture>('answers.json');
const BEFORE_GROUPS = '0009_conversations';
// The outbox is left out: its entries go on being retried (to peers that are down here).
const TABLES = ['messages', 'conversations', 'conversation_members', 'read_markers', 'message_deliveries', 'events'] as const;

type Rows = Record<(typeof TABLES)[number], Record<string, unknown>[]>;

/** Every row of the tables groups touch, in a stable order, numbers as numbers. */
async function snapshot(config: DatabaseConfig): Promise<Rows> {
  const database = openDatabase(config);
  try {
    const rows = {} as Rows;
    for (const table of TABLES) {
      const result = await sql<Record<string, unknown>>`select * from ${sql.table(table)}`.execute(database.db);
      rows[table] = result.rows
        .map((row) => Object.fromEntries(Object.entries(row).map(([column, value]) => [column, typeof value === 'string' && /^\d+$/.test(value) && column !== 'body' ? Number(value) : value])))
        .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    }
    return rows;
  } finally {
    await database.close();
  }
}

describeEachDatabase('a database of the release before groups, migrated in place', (kind) => {
  const offset = Date.now() - (fixture.recordedAt + 60_000);
  const clock = () => Date.now() - offset;
  let dir: string;
  let postgres: TestDatabase | undefined;
  let config: DatabaseConfig;
  let before: Rows;
  let a: TestApp;
  const tokens: Record<string, string> = {};
  const as = (user: string, method: string, path: string, body?: unknown) => call(a.url, method, path, body, { token: tokens[user]! });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'realchat-before-groups-'));
    if (kind === 'postgres') postgres = await createPostgresSchema();
    const databaseUrl = postgres?.url ?? `sqlite:${join(dir, 'realchat.db')}`;
    config = loadConfig({ DATABASE_URL: databaseUrl }, dir).database;
    await restoreRelease(config, fixture);
    const database = openDatabase(config);
    try {
      const last = migrations.findIndex((migration) => migration.name === BEFORE_GROUPS);
      expect(await migrateToLatest(database, migrations.slice(0, last + 1))).toEqual([BEFORE_GROUPS]);
    } finally {
      await database.close();
    }
    before = await snapshot(config);
    // The peers its queued messages wait for are down (nothing listens on their ports).
    const peers = await Promise.all(fixture.keys.peers.map(async (peer) => ({ name: peer.name, url: `http://127.0.0.1:${await freePort()}`, key: peer.key })));
    a = await startTestApp({
      clock,
      env: {
        SERVER_NAME: fixture.keys.serverName,
        ENCRYPTION_KEY: fixture.keys.encryptionKey,
        STORAGE_KEY: fixture.keys.storageKey,
        DATABASE_URL: databaseUrl,
        PEERS: JSON.stringify(peers),
      },
    });
    for (const user of ['alice', 'bob', 'carol']) {
      const login = await call(a.url, 'POST', '/accounts/login/', { username: user, password: recorded.notes.password });
      expect(login.status, `${user} logs in`).toBe(200);
      tokens[user] = login.body.token;
    }
  });

  afterAll(async () => {
    await a?.destroy();
    await postgres?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps every row as it was: direct conversations at version 0, members with their whole feed, events about no group', async () => {
    const after = await snapshot(config);
    expect(before.messages.length).toBeGreaterThan(0);
    // Direct messages have no place in a home's order (0011_federated_groups).
    expect(after.messages).toEqual(before.messages.map((row) => ({ ...row, position: null })));
    expect(after.conversation_members).toEqual(before.conversation_members.map((row) => ({ ...row, feed_from: 0 })));
    expect(after.read_markers).toEqual(before.read_markers);
    expect(after.conversations).toEqual(before.conversations.map((row) => ({ ...row, version: 0 })));
    expect(after.events).toEqual(before.events.map((row) => ({ ...row, conversation_id: null })));
  });

  it('answers its users as before, with the null `group` of direct messages and rows', async () => {
    for (const user of ['alice', 'bob', 'carol']) {
      for (const exchange of recorded.answers[user]!.filter((entry) => !entry.path.startsWith('/accounts/events/'))) {
        const response = await as(user, 'GET', exchange.path);
        expect({ status: response.status, body: response.body }, `${user}: GET ${exchange.path}`).toEqual(answeredNow(exchange));
      }
    }
  });

  it('lets its users make a group and talk in it, beside their old conversations', async () => {
    const created = await as('alice', 'POST', '/accounts/groups/', { name: 'Old friends', members: ['bob', 'carol'] });
    expect(created.status).toBe(201);
    const sent = await as('bob', 'POST', '/accounts/send-message/', { message: 'a group at last', group: created.body.id });
    expect(sent.status).toBe(201);
    expect(sent.body.id).toBeGreaterThan(Math.max(...before.messages.map((row) => Number(row.id)), ...before.events.map((row) => Number(row.seq))));
    const rows = (await as('carol', 'GET', '/accounts/conversations/')).body.results as { with: string | null; group: { id: string } | null }[];
    expect(rows[0]).toMatchObject({ with: null, group: { id: created.body.id, name: 'Old friends', members_count: 3 }, unread: 1 });
    expect(rows.slice(1).map((row) => row.group)).toEqual(rows.slice(1).map(() => null));
    expect(rows.length).toBeGreaterThan(1);
    const direct = await as('alice', 'POST', '/accounts/send-message/', { message: 'and still you', receiver: 'bob' });
    expect(direct.status).toBe(201);
    expect((await as('bob', 'GET', '/accounts/messages/?with=alice&limit=1')).body.results[0]).toMatchObject({ id: direct.body.id, group: null });
  });
});
