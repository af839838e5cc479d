// Redis going away mid-run: real time between instances degrades (readiness says so), requests
// keep working and lose nothing, and everything resumes by itself once Redis is back. The test
// runs a redis-server of its own, so stopping it disturbs no one else.
import { afterEach, describe, expect, it } from 'vitest';
import type { TestApp } from '../helpers/app.js';
import { postgresUrl } from '../helpers/databases.js';
import { call, registerUser } from '../helpers/http.js';
import { closedWithin, openSocket, type TestSocket } from '../realtime/socket.js';
import { haveRedisServer, outsideBus, startCluster, ThrowawayRedis, untilReady, type Cluster } from './cluster.js';

const PASSWORD = 'a long and quiet river';

async function readiness(app: TestApp): Promise<{ status: number; redis: unknown }> {
  const response = await call(app.url, 'GET', '/readyz');
  return { status: response.status, redis: response.body.checks?.redis };
}

const runnable = Boolean(postgresUrl) && haveRedisServer;
const title = runnable ? 'Redis restarted under two instances' : 'Redis restarted under two instances (skipped: needs TEST_DATABASE_URL and /usr/bin/redis-server)';

describe.skipIf(!runnable)(title, () => {
  let redis: ThrowawayRedis | undefined;
  let cluster: Cluster | undefined;
  const open: Array<{ close(): Promise<void> }> = [];

  afterEach(async () => {
    await Promise.all(open.splice(0).map((thing) => thing.close()));
    await cluster?.destroy();
    await redis?.stop();
  });

  async function connect(app: TestApp, token: string): Promise<TestSocket> {
    const socket = await openSocket(app.url, token);
    open.push(socket);
    await socket.roundTrip();
    return socket;
  }

  it('degrades while Redis is down and resumes real time when it is back', async () => {
    redis = await ThrowawayRedis.start();
    cluster = await startCluster({ count: 2, database: 'postgres', redisUrl: redis.url });
    const [one, two] = cluster.instances as [TestApp, TestApp];
    const alice = await registerUser(one.url);
    const spare = (await call(two.url, 'POST', '/accounts/login/', { username: alice.username, password: PASSWORD })).body.token as string;
    const outside = outsideBus(cluster);
    open.push(outside);
    await expect.poll(() => outside.bus.check().then(() => 'ready', () => 'not yet')).toBe('ready');
    const before = await connect(one, alice.token);
    await outside.bus.publish(alice.id, { type: 'status', id: 1, status: 'delivered' });
    expect(await before.next((frame) => frame.type === 'status')).toEqual({ type: 'status', id: 1, status: 'delivered' });

    await redis.stop();
    for (const app of [one, two]) await expect.poll(() => readiness(app), { timeout: 10_000 }).toEqual({ status: 503, redis: 'unavailable' });
    // Requests that publish (a logout tells every instance) still succeed, and sockets stay up.
    expect((await call(two.url, 'POST', '/accounts/logout/', undefined, { token: spare })).status).toBe(204);
    const bob = await registerUser(two.url);
    const sent = await call(two.url, 'POST', '/accounts/send-message/', { message: 'sent while redis was down', receiver: alice.username }, { token: bob.token });
    expect(sent.status).toBe(201);
    await before.roundTrip();

    await redis.start();
    // The socket may have missed events while Redis was away: it is told to reconnect and catch up.
    expect(await closedWithin(before, 15_000)).toMatchObject({ code: 1012 });
    await Promise.all([untilReady(one, 15_000), untilReady(two, 15_000)]);
    await expect.poll(() => outside.bus.check().then(() => 'ready', () => 'not yet'), { timeout: 15_000 }).toBe('ready');

    // Nothing stored was lost: the reconnected client catches up from storage.
    const catchUp = await call(one.url, 'GET', '/accounts/messages/?after=0', undefined, { token: alice.token });
    expect(catchUp.body.results).toEqual([expect.objectContaining({ id: sent.body.id, message: 'sent while redis was down' })]);
    const after = await connect(one, alice.token);
    const bobs = await connect(one, bob.token);
    await outside.bus.publish(alice.id, { type: 'status', id: 2, status: 'failed' });
    // Bob's socket makes him online, which alice (his partner) is told: only the status matters here.
    expect(await after.next((frame) => frame.type === 'status')).toEqual({ type: 'status', id: 2, status: 'failed' });
    await call(two.url, 'POST', '/accounts/send-message/', { message: 'after redis came back', receiver: alice.username }, { token: bob.token });
    expect(await after.next((frame) => frame.type === 'message')).toMatchObject({ type: 'message', message: { message: 'after redis came back' } });
    // A revocation through instance two reaches instance one again.
    expect((await call(two.url, 'POST', '/accounts/logout/', undefined, { token: bob.token })).status).toBe(204);
    expect(await closedWithin(bobs)).toEqual({ code: 4401, reason: 'token revoked' });
  });
});
