// The federation outbox worker runs on every instance: with two of them claiming from one
// PostgreSQL outbox, each entry goes over the wire once. A counting proxy stands in front of a
// real peer backend, so every delivery attempt is seen: a v1 request by its Idempotency-Key, a
// transaction by the ids of its items (the proxy holds the pair's key).
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { newKey, startTestApp, type TestApp } from '../helpers/app.js';
import { postgresUrl, redisUrl } from '../helpers/databases.js';
import { call, registerUser } from '../helpers/http.js';
import { decodeKey } from '../../src/crypto/keys.js';
import { openTransaction, TRANSACTIONS_PATH } from '../../src/federation/transactions/protocol.js';
import { startCluster, type Cluster } from './cluster.js';

/** The ids a request delivers: its items' for a transaction, else its Idempotency-Key. */
function deliveredIds(path: string | undefined, body: Buffer, headers: Record<string, string | string[] | undefined>, key: string): string[] {
  if (path !== TRANSACTIONS_PATH) return [String(headers['idempotency-key'])];
  const items = openTransaction(JSON.parse(body.toString('utf8')), [decodeKey(key)], 60_000, Date.now);
  return items.map((item) => (item.ok ? item.item.id : item.result.id));
}

/** Forwards to the peer while open, answers 503 while shut; counts deliveries by the ids they carry. */
async function startCountingProxy(target: () => string, key: string): Promise<{ url: string; open: boolean; delivered: Map<string, number>; refused: number; close(): Promise<void> }> {
  const proxy = { url: '', open: false, delivered: new Map<string, number>(), refused: 0, close: async () => undefined as void };
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', async () => {
      if (!proxy.open) {
        proxy.refused++;
        response.writeHead(503, { 'content-type': 'application/json' }).end('{"detail":"down","code":"unavailable"}');
        return;
      }
      for (const id of deliveredIds(request.url, Buffer.concat(chunks), request.headers, key)) proxy.delivered.set(id, (proxy.delivered.get(id) ?? 0) + 1);
      const headers = Object.fromEntries(Object.entries(request.headers).filter(([name]) => !['host', 'connection', 'content-length'].includes(name))) as Record<string, string>;
      const answer = await fetch(target() + request.url, { method: request.method, headers, body: Buffer.concat(chunks) });
      response.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' }).end(Buffer.from(await answer.arrayBuffer()));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  proxy.url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  proxy.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return proxy;
}

const runnable = Boolean(postgresUrl && redisUrl);
const title = runnable ? 'the outbox on several instances' : 'the outbox on several instances (skipped: set TEST_DATABASE_URL and TEST_REDIS_URL to run)';

describe.skipIf(!runnable)(title, () => {
  let cluster: Cluster | undefined;
  let peer: TestApp | undefined;
  let proxy: Awaited<ReturnType<typeof startCountingProxy>> | undefined;

  afterEach(async () => {
    await cluster?.destroy();
    await peer?.destroy();
    await proxy?.close();
  });

  it('delivers each entry exactly once with two workers claiming', async () => {
    const key = newKey();
    const name = `a${randomBytes(4).toString('hex')}`;
    proxy = await startCountingProxy(() => peer!.url, key);
    cluster = await startCluster({
      count: 2,
      database: 'postgres',
      redisUrl: redisUrl!,
      env: { SERVER_NAME: name, PEERS: JSON.stringify([{ name: 'b', url: proxy.url, key }]) },
      server: { outbox: { pollIntervalMs: 50, firstTryWaitMs: 50, random: () => 0 } },
    });
    const [one, two] = cluster.instances as [TestApp, TestApp];
    peer = await startTestApp({ database: 'postgres', env: { SERVER_NAME: 'b', PEERS: JSON.stringify([{ name, url: one.url, key }]) } });
    const alice = await registerUser(one.url);
    const receivers = await Promise.all(Array.from({ length: 6 }, () => registerUser(peer!.url)));

    const perReceiver = 3;
    const sends = receivers.flatMap((receiver) => Array.from({ length: perReceiver }, (_, index) => ({ receiver, index })));
    const sent = await Promise.all(
      sends.map(({ receiver, index }) =>
        call(index % 2 ? one.url : two.url, 'POST', '/accounts/send-message/', { message: `note ${index}`, receiver: `${receiver.username}@b` }, { token: alice.token }),
      ),
    );
    for (const response of sent) expect(response.body.status).toBe('queued');
    proxy.open = true;

    // Both workers now retry the backlog at the same time.
    const delivered = async () => {
      const counts = await Promise.all(
        receivers.map(async (receiver) => {
          const history = await call(one.url, 'GET', `/accounts/messages/?with=${receiver.username}@b&limit=200`, undefined, { token: alice.token });
          return (history.body.results as Array<{ status: string }>).filter((message) => message.status === 'delivered').length;
        }),
      );
      return counts.reduce((sum, count) => sum + count, 0);
    };
    await expect.poll(delivered, { timeout: 20_000, interval: 100 }).toBe(sends.length);
    expect(proxy.delivered.size).toBe(sends.length);
    expect([...proxy.delivered.entries()].filter(([, times]) => times !== 1)).toEqual([]);
    // Each receiver got its messages once, in the order they were stored by the sender.
    for (const receiver of receivers) {
      const outgoing = await call(one.url, 'GET', `/accounts/messages/?with=${receiver.username}@b&limit=200`, undefined, { token: alice.token });
      const inbox = await call(peer.url, 'GET', '/accounts/messages/?after=0&limit=200', undefined, { token: receiver.token });
      const texts = (results: Array<{ message: string }>) => results.map((message) => message.message);
      expect(texts(inbox.body.results)).toEqual(texts(outgoing.body.results).reverse());
    }
    const federated = await Promise.all([one, two].map(async (app) => Number(/^realchat_messages_federated_total (\d+)$/m.exec(await (await fetch(`${app.url}/metrics`)).text())?.[1])));
    expect(federated[0]! + federated[1]!).toBe(sends.length);
  });
});
