// Typing and presence across instances sharing PostgreSQL and Redis: typing crosses through
// the bus with one shared rate limit, a user is online while a socket is open on any instance,
// and goes offline a grace after the last one closed, also when its instance was killed.
import { afterEach, describe, expect, it } from 'vitest';
import type { TestApp } from '../helpers/app.js';
import { bareEnvironment, startServe, type ServeProcess } from '../helpers/cli.js';
import { postgresUrl, redisUrl } from '../helpers/databases.js';
import { call, registerUser, type RegisteredUser } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { openSocket, type TestSocket } from '../realtime/socket.js';
import { startCluster, type Cluster } from './cluster.js';

const GRACE_MS = 400;
const title = postgresUrl && redisUrl ? 'typing and presence on several instances' : 'typing and presence on several instances (skipped: set TEST_DATABASE_URL and TEST_REDIS_URL to run)';

describe.skipIf(!postgresUrl || !redisUrl)(title, () => {
  const open: TestSocket[] = [];
  let cluster: Cluster | undefined;
  let killed: ServeProcess | undefined;

  afterEach(async () => {
    await Promise.all(open.splice(0).map((socket) => socket.close()));
    await killed?.stop('SIGKILL');
    killed = undefined;
    await cluster?.destroy();
    cluster = undefined;
  });

  async function connect(url: string, user: RegisteredUser): Promise<TestSocket> {
    const socket = await openSocket(url, user.token);
    open.push(socket);
    await socket.roundTrip();
    return socket;
  }
  /** One message each way: one alone makes no partners. */
  async function partners(app: TestApp, a: RegisteredUser, b: RegisteredUser): Promise<void> {
    for (const [sender, receiver] of [[a, b], [b, a]] as const) {
      expect((await call(app.url, 'POST', '/accounts/send-message/', { message: 'hi', receiver: receiver.username }, { token: sender.token })).status).toBe(201);
    }
  }
  const presenceOf = (user: RegisteredUser, status: string) => (frame: Record<string, unknown>) => frame.type === 'presence' && frame.user === user.username && frame.status === status;

  it('relays typing across instances, once per 2 s for all of the sender’s sessions', async () => {
    cluster = await startCluster({ count: 2, database: 'postgres', redisUrl: redisUrl! });
    const [one, two] = cluster.instances as [TestApp, TestApp];
    const [alice, bob] = await Promise.all([registerUser(one.url), registerUser(one.url)]);
    await partners(one, alice, bob);
    const alicesOnOne = await connect(one.url, alice);
    const alicesOnTwo = await connect(two.url, alice);
    const bobs = await connect(two.url, bob);

    alicesOnOne.send({ type: 'typing', to: bob.username });
    expect(await bobs.next((frame) => frame.type === 'typing')).toEqual({ type: 'typing', from: alice.username });
    alicesOnTwo.send({ type: 'typing', to: bob.username });
    await alicesOnTwo.roundTrip();
    await partners(one, alice, bob);
    await bobs.next((frame) => frame.type === 'message');
    expect(bobs.received.filter((frame) => frame.type === 'typing')).toEqual([]);
  });

  it('shows a user online while a socket is open on any instance, and offline a grace after the last one closed', async () => {
    cluster = await startCluster({ count: 2, database: 'postgres', redisUrl: redisUrl!, env: { PRESENCE_GRACE: `${GRACE_MS}ms` } });
    const [one, two] = cluster.instances as [TestApp, TestApp];
    const [alice, bob] = await Promise.all([registerUser(one.url), registerUser(one.url)]);
    await partners(one, bob, alice);
    const alices = await connect(one.url, alice);

    const bobOnTwo = await connect(two.url, bob);
    expect(await alices.next(presenceOf(bob, 'online'))).toEqual({ type: 'presence', user: bob.username, status: 'online', last_seen: null });
    const bobOnOne = await connect(one.url, bob);
    await bobOnTwo.close();
    for (const app of [one, two]) {
      const answer = await call(app.url, 'GET', `/accounts/presence/?users=${bob.username}`, undefined, { token: alice.token });
      expect(answer.body).toEqual({ [bob.username]: { status: 'online', last_seen: null } });
    }
    const closedAt = Date.now();
    await bobOnOne.close();
    await alices.next(presenceOf(bob, 'offline'), 5000);
    expect(Date.now() - closedAt).toBeGreaterThanOrEqual(GRACE_MS - 50);
    // The change was told once, though two instances sweep.
    await alices.roundTrip();
    const answer = await call(two.url, 'GET', `/accounts/presence/?users=${bob.username}`, undefined, { token: alice.token });
    expect(answer.body[bob.username]).toMatchObject({ status: 'offline', last_seen: expect.any(String) });
    expect(alices.received.filter((frame) => frame.type === 'presence')).toEqual([]);
  });

  it('shows a user offline after the grace when the instance holding their socket is killed', async () => {
    cluster = await startCluster({ count: 1, database: 'postgres', redisUrl: redisUrl!, env: { PRESENCE_GRACE: `${GRACE_MS}ms` } });
    const [one] = cluster.instances as [TestApp];
    const [alice, bob] = await Promise.all([registerUser(one.url), registerUser(one.url)]);
    await partners(one, bob, alice);
    const alices = await connect(one.url, alice);

    const port = await freePort();
    killed = await startServe({ cwd: one.dir, port, env: bareEnvironment({ ...cluster.env, PRESENCE_GRACE: `${GRACE_MS}ms`, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'silent' }) });
    const serving = killed;
    await expect.poll(() => fetch(`${serving.url}/readyz`).then((response) => response.status), { timeout: 10_000 }).toBe(200);
    await connect(killed.url, bob);
    await alices.next(presenceOf(bob, 'online'));

    await killed.stop('SIGKILL');
    const offline = await alices.next(presenceOf(bob, 'offline'), 5000);
    expect(offline.last_seen).toEqual(expect.any(String));
    const answer = await call(one.url, 'GET', `/accounts/presence/?users=${bob.username}`, undefined, { token: alice.token });
    expect(answer.body[bob.username]).toMatchObject({ status: 'offline' });
  });
});
