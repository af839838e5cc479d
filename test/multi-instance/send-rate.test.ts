// The per-user send budget with several instances: counted in Redis, so that spreading sends
// over instances does not multiply it.
import { afterEach, describe, expect, it } from 'vitest';
import type { TestApp } from '../helpers/app.js';
import { postgresUrl, redisUrl } from '../helpers/databases.js';
import { call, registerUser } from '../helpers/http.js';
import { startCluster, type Cluster } from './cluster.js';

const title = postgresUrl && redisUrl ? 'the send budget on several instances' : 'the send budget on several instances (skipped: set TEST_DATABASE_URL and TEST_REDIS_URL to run)';

describe.skipIf(!postgresUrl || !redisUrl)(title, () => {
  let cluster: Cluster | undefined;
  afterEach(async () => {
    await cluster?.destroy();
    cluster = undefined;
  });

  it('refuses a user’s sends past the budget whichever instance they reach', async () => {
    cluster = await startCluster({ count: 2, database: 'postgres', redisUrl: redisUrl!, env: { SEND_RATE: '2/s' } });
    const [one, two] = cluster.instances as [TestApp, TestApp];
    const [alice, bob] = await Promise.all([registerUser(one.url), registerUser(one.url)]);
    const send = (app: TestApp, n: number) => call(app.url, 'POST', '/accounts/send-message/', { message: `m${n}`, receiver: bob.username }, { token: alice.token });
    for (let n = 0; n < 10; n++) expect((await send(n % 2 === 0 ? one : two, n)).status).toBe(201);
    for (const app of [one, two]) expect((await send(app, 10)).body.code).toBe('rate_limited');
  });
});
