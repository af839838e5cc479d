// Several instances behind a load balancer, sharing the database and Redis: real-time events
// and token revocations cross instances, abuse limits are shared, migrations run once.
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_ABUSE_LIMITS } from '../../src/accounts/service.js';
import { openDatabase } from '../../src/db/database.js';
import { migrations } from '../../src/db/migrations/index.js';
import { newKey, type TestApp } from '../helpers/app.js';
import { peerRequest, postAsPeer } from '../federation/peer-requests.js';
import { postgresUrl, redisUrl } from '../helpers/databases.js';
import { call, registerUser } from '../helpers/http.js';
import { closedWithin, openSocket, type TestSocket } from '../realtime/socket.js';
import { outsideBus, startCluster, type Cluster } from './cluster.js';

const PASSWORD = 'a long and quiet river';

const title = postgresUrl && redisUrl ? 'several instances' : 'several instances (skipped: set TEST_DATABASE_URL and TEST_REDIS_URL to run)';

// Instances sharing SQLite in one test process would block each other (better-sqlite3 waits
// synchronously); several processes on one SQLite file are covered by the CLI tests.
describe.skipIf(!postgresUrl || !redisUrl)(title, () => {
  const database = 'postgres';
  const open: Array<{ close(): Promise<void> }> = [];
  let cluster: Cluster | undefined;

  afterEach(async () => {
    await Promise.all(open.splice(0).map((thing) => thing.close()));
    await cluster?.destroy();
    cluster = undefined;
  });

  async function connect(app: TestApp, token: string): Promise<TestSocket> {
    const socket = await openSocket(app.url, token);
    open.push(socket);
    await socket.roundTrip();
    return socket;
  }

  it('runs the migrations once when all instances start together', async () => {
    cluster = await startCluster({ count: 4, database, redisUrl: redisUrl! });
    const db = openDatabase(cluster.instances[0]!.config.database);
    try {
      const rows = await sql<{ name: string }>`select name from schema_migrations order by name`.execute(db.db);
      expect(rows.rows.map((row) => row.name)).toEqual(migrations.map((migration) => migration.name).sort());
    } finally {
      await db.close();
    }
    for (const app of cluster.instances) expect((await call(app.url, 'GET', '/readyz')).status).toBe(200);
  });

  describe('sharing Redis', () => {
    it('delivers an event published on another instance to the user’s socket', async () => {
      cluster = await startCluster({ count: 2, database, redisUrl: redisUrl! });
      const [one, two] = cluster.instances as [TestApp, TestApp];
      const bob = await registerUser(one.url);
      const onOne = await connect(one, bob.token);
      const onTwo = await connect(two, bob.token);
      const outside = outsideBus(cluster);
      open.push(outside);
      await expect.poll(() => outside.bus.check().then(() => 'ready', () => 'not yet')).toBe('ready');
      await outside.bus.publish(bob.id, { type: 'status', id: 5, status: 'delivered' });
      expect(await onOne.next((frame) => frame.type === 'status')).toEqual({ type: 'status', id: 5, status: 'delivered' });
      expect(await onTwo.next((frame) => frame.type === 'status')).toEqual({ type: 'status', id: 5, status: 'delivered' });
    });

    it('delivers alice’s message sent through instance 2 to bob’s socket on instance 1, and to alice’s other sessions', async () => {
      cluster = await startCluster({ count: 2, database, redisUrl: redisUrl! });
      const [one, two] = cluster.instances as [TestApp, TestApp];
      const alice = await registerUser(one.url);
      const bob = await registerUser(two.url);
      const bobs = await connect(one, bob.token);
      const alices = await connect(one, alice.token);
      const sent = await call(two.url, 'POST', '/accounts/send-message/', { message: 'across instances', receiver: bob.username }, { token: alice.token });
      expect(sent.status).toBe(201);
      const expected = { type: 'message', seq: expect.any(Number), message: expect.objectContaining({ id: sent.body.id, sender: alice.username, receiver: bob.username, message: 'across instances' }) };
      expect(await bobs.next((frame) => frame.type === 'message')).toEqual(expected);
      expect(await alices.next((frame) => frame.type === 'message')).toEqual(expected);

      const read = await call(one.url, 'POST', `/accounts/messages/${sent.body.id}/read/`, undefined, { token: bob.token });
      expect(read.status).toBe(200);
      const alicesOnTwo = await connect(two, alice.token);
      await call(two.url, 'POST', '/accounts/send-message/', { message: 'and back', receiver: alice.username }, { token: bob.token });
      expect(await alicesOnTwo.next((frame) => frame.type === 'message')).toMatchObject({ message: { message: 'and back' } });
      expect(await alices.next((frame) => frame.type === 'read')).toMatchObject({ type: 'read', with: bob.username, up_to: sent.body.id });
    });

    it('delivers a message received from a peer by instance 3 to the socket on instance 1', async () => {
      const key = newKey();
      cluster = await startCluster({ count: 3, database, redisUrl: redisUrl!, env: { PEERS: JSON.stringify([{ name: 'b', url: 'http://127.0.0.1:9', key }]) } });
      const [one, , three] = cluster.instances as [TestApp, TestApp, TestApp];
      const bob = await registerUser(one.url);
      const bobs = await connect(one, bob.token);
      const answer = await postAsPeer(three.url, peerRequest({ key, origin: 'b', destination: cluster.env.SERVER_NAME!, sender: 'carol', receiver: bob.username, text: 'from the peer' }));
      expect(answer.status).toBe(200);
      expect(await bobs.next((frame) => frame.type === 'message')).toEqual({ type: 'message', seq: expect.any(Number), message: expect.objectContaining({ sender: 'carol@b', receiver: bob.username, message: 'from the peer' }) });
    });

    it('closes a socket on one instance when its token is revoked through another', async () => {
      cluster = await startCluster({ count: 2, database, redisUrl: redisUrl! });
      const [one, two] = cluster.instances as [TestApp, TestApp];
      const alice = await registerUser(one.url);
      const second = (await call(two.url, 'POST', '/accounts/login/', { username: alice.username, password: PASSWORD })).body.token as string;
      const third = (await call(two.url, 'POST', '/accounts/login/', { username: alice.username, password: PASSWORD })).body.token as string;
      const first = await connect(one, alice.token);
      const kept = await connect(one, second);
      const other = await connect(one, third);

      expect((await call(two.url, 'POST', '/accounts/logout/', undefined, { token: alice.token })).status).toBe(204);
      expect(await closedWithin(first)).toEqual({ code: 4401, reason: 'token revoked' });

      const change = await call(two.url, 'PATCH', '/accounts/me/', { current_password: PASSWORD, password: 'another calm long river' }, { token: second });
      expect(change.status).toBe(200);
      expect(await closedWithin(other)).toEqual({ code: 4401, reason: 'token revoked' });
      await kept.roundTrip();
    });

    it('shares the login-failure count between instances', async () => {
      cluster = await startCluster({ count: 2, database, redisUrl: redisUrl!, server: { abuseLimits: { ...DEFAULT_ABUSE_LIMITS, loginFailuresPerUsername: 3 } } });
      const [one, two] = cluster.instances as [TestApp, TestApp];
      const carol = await registerUser(one.url);
      const wrong = { username: carol.username, password: 'not the password at all' };
      expect((await call(one.url, 'POST', '/accounts/login/', wrong)).status).toBe(401);
      expect((await call(two.url, 'POST', '/accounts/login/', wrong)).status).toBe(401);
      expect((await call(one.url, 'POST', '/accounts/login/', wrong)).status).toBe(401);
      const refused = await call(two.url, 'POST', '/accounts/login/', { username: carol.username, password: PASSWORD });
      expect(refused.status).toBe(429);
      expect(refused.body.code).toBe('rate_limited');
    });
  });
});
