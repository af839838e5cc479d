// kill -9 of either backend loses no accepted message and stores none twice. The killed backend
// runs as `node dist/main.js serve` (built by `npm test` before the suite runs).
import { afterEach, expect, it } from 'vitest';
import { startBackends, type Backend } from '../helpers/backends.js';
import { describeEachDatabase } from '../helpers/databases.js';
import { call, registerUser, type RegisteredUser } from '../helpers/http.js';
import { eventually } from './peer-requests.js';

function send(backend: Backend, from: RegisteredUser, message: string) {
  return call(backend.url, 'POST', '/accounts/send-message/', { message, receiver: 'bob@b' }, { token: from.token });
}

async function receivedByBob(b: Backend, bob: RegisteredUser): Promise<string[]> {
  const response = await call(b.url, 'GET', '/accounts/messages/?with=alice@a&limit=200', undefined, { token: bob.token });
  expect(response.status).toBe(200);
  return response.body.results.map((m: { message: string }) => m.message).reverse();
}

describeEachDatabase('a backend killed with SIGKILL', (database) => {
  let backends: Backend[] = [];
  afterEach(async () => {
    await Promise.all(backends.map((backend) => backend.destroy()));
    backends = [];
  });

  it('delivers what the sender accepted before it was killed, once it is restarted', async () => {
    // A short timeout keeps the lease a killed worker leaves behind short.
    backends = await startBackends(database, ['a', 'b'], { start: false, env: { FEDERATION_TIMEOUT: '1s' } });
    const [a, b] = backends as [Backend, Backend];
    await b.start();
    const bob = await registerUser(b.url, 'bob');
    await b.stop();
    await a.spawn();
    const alice = await registerUser(a.url, 'alice');

    const texts = ['before the crash 1', 'before the crash 2', 'before the crash 3'];
    for (const text of texts) {
      const sent = await send(a, alice, text);
      expect(sent.status).toBe(201);
      expect(sent.body.status).toBe('queued');
    }
    await a.stop();

    await b.start();
    await a.spawn();
    const received = await eventually(async () => {
      const messages = await receivedByBob(b, bob);
      expect(messages).toHaveLength(3);
      return messages;
    }, 20_000);
    expect(received).toEqual(texts);
    await eventually(async () => {
      const statuses = (await call(a.url, 'GET', '/accounts/messages/?with=bob@b', undefined, { token: alice.token })).body.results.map((m: { status: string }) => m.status);
      expect(statuses).toEqual(['delivered', 'delivered', 'delivered']);
    });
  });

  it('loses and duplicates nothing when the receiver is killed in the middle of a stream', async () => {
    backends = await startBackends(database, ['a', 'b'], { start: false });
    const [a, b] = backends as [Backend, Backend];
    await a.start({}, { outbox: { random: () => 0 } });
    await b.spawn();
    const alice = await registerUser(a.url, 'alice');
    const bob = await registerUser(b.url, 'bob');

    const texts = Array.from({ length: 12 }, (_, i) => `stream ${i}`);
    const statuses: string[] = [];
    for (const [index, text] of texts.entries()) {
      if (index === 5) await b.stop();
      const sent = await send(a, alice, text);
      expect(sent.status).toBe(201);
      statuses.push(sent.body.status);
    }
    expect(statuses.slice(0, 5)).toEqual(Array(5).fill('delivered'));
    expect(statuses.slice(5)).toEqual(Array(7).fill('queued'));

    await b.spawn();
    const received = await eventually(async () => {
      const messages = await receivedByBob(b, bob);
      expect(messages).toHaveLength(12);
      return messages;
    }, 20_000);
    expect(received).toEqual(texts);
  });
});
