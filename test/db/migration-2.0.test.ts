// A database written by release 2.0.0 migrates in place: every answer that release gave for it
// comes back the same, and its rows go on living (ids, the feed, the outbox, peers' receipts,
// read markers). The database and the answers were recorded by test/fixtures/release-2.0/generate.mjs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig, type Environment } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { createPostgresSchema, describeEachDatabase, type TestDatabase } from '../helpers/databases.js';
import { call } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { eventually, peerRequest, postAsPeer } from '../federation/peer-requests.js';
import { readFixture, releaseMigrations, restoreRelease, answeredNow, type AnswersFixture, type DatabaseFixture } from './release-2.0-database.js';

const fixture = readFixture<DatabaseFixture>('database.json');
const recorded = readFixture<AnswersFixture>('answers.json');

interface Message {
  id: number;
  sender: string;
  receiver: string;
  message: string;
  status: string;
  read_at: string | null;
  edited_at: string | null;
}

const keyOf = (peer: string) => fixture.keys.peers.find((entry) => entry.name === peer)!.key;
const rowsOf = (table: string) => fixture.tables.find((entry) => entry.table === table)!.rows;
/** The largest id or seq release 2.0.0 gave out: every new one must be above it. */
const lastIssued = Math.max(...rowsOf('messages').map((row) => Number(row.id)), ...rowsOf('events').map((row) => Number(row.seq)), fixture.sequences.messages ?? 0);

it('rebuilds release 2.0.0’s schema from the migrations it shipped', () => {
  expect(releaseMigrations().map((migration) => migration.name)).toEqual(fixture.migrations);
});

describeEachDatabase('a database written by release 2.0.0, migrated in place', (kind) => {
  // The backend resumes a minute after the fixture was recorded: tokens, the feed, peers' receipts
  // and the outbox's give-up time are as fresh as they were then, however old the fixture is.
  const offset = Date.now() - (fixture.recordedAt + 60_000);
  const clock = () => Date.now() - offset;
  const seconds = () => Math.floor(clock() / 1000);
  let dir: string;
  let postgres: TestDatabase | undefined;
  let a: TestApp;
  let peerC: { server: RunningServer; dir: string; token: string } | undefined;
  let cPort: number;
  const tokens: Record<string, string> = {};

  const get = (user: string, path: string) => call(a.url, 'GET', path, undefined, { token: tokens[user]! });
  const history = async (user: string, partner: string) => {
    const response = await get(user, `/accounts/messages/?with=${encodeURIComponent(partner)}&limit=200`);
    expect(response.status, `${user}'s history with ${partner}`).toBe(200);
    return response.body.results as Message[];
  };
  const send = async (user: string, receiver: string, message: string) => {
    const sent = await call(a.url, 'POST', '/accounts/send-message/', { receiver, message }, { token: tokens[user]! });
    expect(sent.status, `${user} sends to ${receiver}`).toBe(201);
    return sent.body as { id: number; status: string };
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'realchat-release-2.0-'));
    if (kind === 'postgres') postgres = await createPostgresSchema();
    const databaseUrl = postgres?.url ?? `sqlite:${join(dir, 'realchat.db')}`;
    await restoreRelease(loadConfig({ DATABASE_URL: databaseUrl }, dir).database, fixture);
    // b and c are down (nothing listens on their ports) until a test starts c.
    const [bPort, port] = await Promise.all([freePort(), freePort()]);
    cPort = port;
    a = await startTestApp({
      clock,
      // Retries at the low end of their jitter, as the federation tests run them: c is reached sooner once up.
      outbox: { random: () => 0 },
      env: {
        SERVER_NAME: fixture.keys.serverName,
        ENCRYPTION_KEY: fixture.keys.encryptionKey,
        STORAGE_KEY: fixture.keys.storageKey,
        DATABASE_URL: databaseUrl,
        PEERS: JSON.stringify([
          { name: 'b', url: `http://127.0.0.1:${bPort}`, key: keyOf('b') },
          { name: 'c', url: `http://127.0.0.1:${cPort}`, key: keyOf('c') },
        ]),
      },
    });
    for (const user of Object.keys(recorded.answers)) {
      const login = await call(a.url, 'POST', '/accounts/login/', { username: user, password: recorded.notes.password });
      expect(login.status, `${user} logs in`).toBe(200);
      tokens[user] = login.body.token;
    }
  });

  afterAll(async () => {
    await a?.destroy();
    await peerC?.server.close();
    if (peerC) rmSync(peerC.dir, { recursive: true, force: true });
    await postgres?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers every request of every user as release 2.0.0 did (with the null `group` of direct messages and rows)', async () => {
    for (const [user, exchanges] of Object.entries(recorded.answers)) {
      for (const exchange of exchanges) {
        const response = await get(user, exchange.path);
        expect({ status: response.status, body: response.body }, `${user}: GET ${exchange.path}`).toEqual(answeredNow(exchange));
      }
    }
  });

  it('gives a new message an id above every old id and seq, first in both feeds', async () => {
    const sent = await send('alice', 'carol', 'after the migration');
    expect(sent.id).toBeGreaterThan(lastIssued);
    for (const user of ['alice', 'carol']) {
      const feed = await get(user, `/accounts/events/?after=${lastIssued}`);
      expect(feed.body.results, `${user}'s feed after the last old seq`).toEqual([expect.objectContaining({ type: 'message', seq: sent.id, message: expect.objectContaining({ id: sent.id }) })]);
    }
  });

  it('moves a read marker on from the migrated one, leaving the old read times as they were', async () => {
    const before = await history('bob', 'alice');
    const sent = await send('alice', 'bob', 'read me after the migration');
    const markedFrom = clock();
    const marked = await call(a.url, 'POST', `/accounts/messages/${sent.id}/read/`, undefined, { token: tokens.bob! });
    expect(marked.status).toBe(200);
    const readNow = (message: Message | undefined) => {
      const at = Date.parse(message?.read_at ?? '');
      return at >= markedFrom && at <= clock();
    };
    const after = await history('bob', 'alice');
    expect(readNow(after.find((message) => message.id === sent.id)), 'the new message is read').toBe(true);
    for (const old of before) {
      const now = after.find((message) => message.id === old.id);
      // Only alice's messages that were still unread are read now; the others keep their read time.
      if (old.read_at === null && old.sender === 'alice') expect(readNow(now), `message ${old.id} is read`).toBe(true);
      else expect(now?.read_at, `message ${old.id} keeps its read time`).toBe(old.read_at);
    }
    const readByBob = before.filter((message) => message.sender === 'alice' && message.read_at !== null);
    expect(new Set(readByBob.map((message) => message.read_at)).size, 'bob read alice’s messages at two times').toBe(2);
    const conversations = await get('bob', '/accounts/conversations/');
    expect(conversations.body.results).toEqual([expect.objectContaining({ with: 'alice', unread: 0 })]);
    const aliceFeed = await get('alice', `/accounts/events/?after=${sent.id}`);
    expect(aliceFeed.body.results).toEqual([expect.objectContaining({ type: 'read', with: 'bob', up_to: sent.id, seq: expect.any(Number) })]);
    expect(aliceFeed.body.results[0].seq).toBeGreaterThan(sent.id);
  });

  it('answers a peer repeating an old request with its first answer, storing nothing new', async () => {
    const { id, sender, receiver, text } = recorded.notes.repeatedRequest;
    const before = await history('alice', `${sender}@b`);
    const request = peerRequest({ key: keyOf('b'), origin: 'b', destination: 'a', id, sender, receiver, text, tokenTime: seconds(), signatureTime: seconds() });
    const answer = await postAsPeer(a.url, request);
    expect(answer, 'the repeated request').toMatchObject({ status: 200, body: { message: text } });
    expect(await history('alice', `${sender}@b`)).toEqual(before);
  });

  it('delivers the queued message and its edit, once each, when the peer comes up', async () => {
    const { id, receiver, text } = recorded.notes.queued;
    const [name] = receiver.split('@');
    peerC = await startPeerC(name!);
    const atC = async () => {
      const response = await call(peerC!.server.url, 'GET', '/accounts/messages/?with=alice@a', undefined, { token: peerC!.token });
      return response.body.results as Message[];
    };
    // a retries with backoff (1 s, 2 s, 4 s... since it started): the next try may be seconds away.
    await eventually(async () => expect((await atC())[0]).toMatchObject({ message: text, edited_at: expect.any(String) }), 15_000);
    await eventually(async () => expect((await history('alice', receiver)).find((message) => message.id === id)).toMatchObject({ status: 'delivered' }));
    expect(await atC()).toHaveLength(1);
  });

  /** Peer c with its user, on the port a knows it by, on the same clock; its user is made before a can reach it. */
  async function startPeerC(username: string): Promise<{ server: RunningServer; dir: string; token: string }> {
    const peerDir = mkdtempSync(join(tmpdir(), 'realchat-c-'));
    const env: Environment = {
      HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      SERVER_NAME: 'c',
      DATABASE_URL: `sqlite:${join(peerDir, 'realchat.db')}`,
      PEERS: JSON.stringify([{ name: 'a', url: a.url, key: keyOf('c') }]),
    };
    const hidden = await startServer(loadConfig({ ...env, PORT: '0' }, peerDir), { clock });
    const registered = await call(hidden.url, 'POST', '/accounts/register/', { username, email: `${username}@example.org`, password: recorded.notes.password });
    await hidden.close();
    expect(registered.status, `${username} registers on c`).toBe(201);
    const server = await startServer(loadConfig({ ...env, PORT: String(cPort) }, peerDir), { clock });
    return { server, dir: peerDir, token: registered.body.token };
  }
});
