// Two instances of a on one PostgreSQL database send to b at once: each claims its own entries
// (its own sends, and what it finds due), so every message reaches b once, each receiver's in
// the order a stored them, and in transactions of many items.
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { TRANSACTIONS_PATH } from '../../src/federation/transactions/protocol.js';
import { newKey, startTestApp, type TestApp } from '../helpers/app.js';
import { postgresUrl, redisUrl } from '../helpers/databases.js';
import { call, registerUser } from '../helpers/http.js';
import { RecordingProxy } from '../helpers/recording-proxy.js';
import { startCluster, type Cluster } from './cluster.js';

const runnable = Boolean(postgresUrl && redisUrl);
const title = runnable ? 'transactions from several instances' : 'transactions from several instances (skipped: set TEST_DATABASE_URL and TEST_REDIS_URL to run)';

describe.skipIf(!runnable)(title, () => {
  let cluster: Cluster | undefined;
  let peer: TestApp | undefined;
  let proxy: RecordingProxy | undefined;

  afterEach(async () => {
    await cluster?.destroy();
    await peer?.destroy();
    await proxy?.close();
  });

  it('delivers what two instances send at once, each message once and in order per receiver', async () => {
    const key = newKey();
    const name = `a${randomBytes(4).toString('hex')}`;
    proxy = await new RecordingProxy().listen();
    cluster = await startCluster({
      count: 2,
      database: 'postgres',
      redisUrl: redisUrl!,
      env: { SERVER_NAME: name, SEND_RATE: 'off', PEERS: JSON.stringify([{ name: 'b', url: proxy.url, key }]) },
      server: { outbox: { pollIntervalMs: 50, random: () => 0 } },
    });
    const [one, two] = cluster.instances as [TestApp, TestApp];
    peer = await startTestApp({ database: 'postgres', env: { SERVER_NAME: 'b', PEERS: JSON.stringify([{ name, url: one.url, key }]) } });
    proxy.target = peer.url;
    const alice = await registerUser(one.url);
    const receivers = await Promise.all(Array.from({ length: 4 }, () => registerUser(peer!.url)));

    const perReceiver = 30;
    const sends = receivers.flatMap((receiver) => Array.from({ length: perReceiver }, (_, index) => ({ receiver, index })));
    const sent = await Promise.all(
      sends.map(({ receiver, index }) =>
        call(index % 2 ? one.url : two.url, 'POST', '/accounts/send-message/', { message: `note ${index}`, receiver: `${receiver.username}@b` }, { token: alice.token }),
      ),
    );
    expect(sent.every((response) => response.status === 201)).toBe(true);

    const outgoing = (receiver: { username: string }) => call(one.url, 'GET', `/accounts/messages/?with=${receiver.username}@b&limit=200`, undefined, { token: alice.token });
    const delivered = async () => {
      const counts = await Promise.all(receivers.map(async (receiver) => (await outgoing(receiver)).body.results.filter((m: { status: string }) => m.status === 'delivered').length));
      return counts.reduce((sum, count) => sum + count, 0);
    };
    await expect.poll(delivered, { timeout: 20_000, interval: 100 }).toBe(sends.length);
    for (const receiver of receivers) {
      const inbox = await call(peer.url, 'GET', '/accounts/messages/?after=0&limit=200', undefined, { token: receiver.token });
      const texts = (results: Array<{ message: string }>) => results.map((message) => message.message);
      // Once each, in the order a stored them (its ids).
      expect(texts(inbox.body.results)).toEqual(texts((await outgoing(receiver)).body.results).reverse());
    }
    expect(proxy.count(TRANSACTIONS_PATH)).toBeLessThan(sends.length / 2);
    const federated = await Promise.all([one, two].map(async (app) => Number(/^realchat_messages_federated_total (\d+)$/m.exec(await (await fetch(`${app.url}/metrics`)).text())?.[1])));
    expect(federated[0]! + federated[1]!).toBe(sends.length);
  });
});
