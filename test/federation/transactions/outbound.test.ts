// What a sends b through the outbox, counted by a recording proxy in front of b: bursts travel as
// transactions of many items, in order per receiver and once each; a queue built while b was down
// leaves in a few; a backend without the transactions path, or the original backend, gets v1.
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { RECEIVE_PATH } from '../../../src/federation/client.js';
import { TRANSACTIONS_PATH } from '../../../src/federation/transactions/protocol.js';
import { V1_FALLBACK_MS } from '../../../src/federation/transactions/support.js';
import { startBackends, type Backend } from '../../helpers/backends.js';
import { describeEachDatabase } from '../../helpers/databases.js';
import { startFakeOriginal } from '../../helpers/fake-original.js';
import { call, registerUser, type RegisteredUser } from '../../helpers/http.js';
import { RecordingProxy } from '../../helpers/recording-proxy.js';
import { eventually } from '../peer-requests.js';

type Message = { id: number; message: string; sender: string; status: string };

async function history(backend: Backend, user: RegisteredUser, partner: string): Promise<Message[]> {
  const response = await call(backend.url, 'GET', `/accounts/messages/?with=${encodeURIComponent(partner)}&limit=200`, undefined, { token: user.token });
  expect(response.status).toBe(200);
  return (response.body.results as Message[]).reverse();
}

function send(backend: Backend, from: RegisteredUser, receiver: string, message: string) {
  return call(backend.url, 'POST', '/accounts/send-message/', { message, receiver }, { token: from.token });
}

/** Texts sent at once, in the order the sender stored them (its ids): the order a receiver must see. */
function inStoredOrder(texts: string[], answers: { body: { id: number } }[]): string[] {
  return texts.map((text, n) => ({ text, id: answers[n]!.body.id })).sort((x, y) => x.id - y.id).map((sent) => sent.text);
}

/** A metric's value in a's /metrics, summed over the series whose labels include `labels`. */
async function metric(backend: Backend, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${backend.url}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(name) && line.includes(labels))
    .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
}

describeEachDatabase('outbound transactions', (database) => {
  let proxy: RecordingProxy;
  let a: Backend;
  let b: Backend;
  let alice: RegisteredUser;
  let carol: RegisteredUser;
  let bob: RegisteredUser;
  let dave: RegisteredUser;

  beforeAll(async () => {
    proxy = await new RecordingProxy().listen();
    [a, b] = (await startBackends(database, ['a', 'b'], {
      peers: (name, peers) => (name === 'a' ? peers.map((peer) => ({ ...peer, url: proxy.url })) : peers),
      // The burst is 250 messages a sender: the per-user send budget is not what is tested.
      env: { SEND_RATE: 'off' },
      server: { outbox: { random: () => 0 } },
    })) as [Backend, Backend];
    proxy.target = b.url;
    [alice, carol, bob, dave] = await Promise.all([registerUser(a.url, 'alice'), registerUser(a.url, 'carol'), registerUser(b.url, 'bob'), registerUser(b.url, 'dave')]);
  });
  afterAll(async () => {
    await Promise.all([a.destroy(), b.destroy()]);
    await proxy.close();
  });
  afterEach(() => {
    proxy.answer(TRANSACTIONS_PATH, undefined);
    proxy.resetCounts();
  });

  it('carries a burst of 500 messages in far fewer requests, each stored once, in order per receiver', async () => {
    const pairs = [
      [alice, 'bob'],
      [alice, 'dave'],
      [carol, 'bob'],
      [carol, 'dave'],
    ] as const;
    const sent = await Promise.all(Array.from({ length: 500 }, (_, n) => send(a, pairs[n % 4]![0], `${pairs[n % 4]![1]}@b`, `burst ${n}`)));
    expect(sent.every((response) => response.status === 201)).toBe(true);

    for (const [sender, receiver] of pairs) {
      // a's order (its ids) is the order the receiver must see.
      const outgoing = await history(a, sender, `${receiver}@b`);
      const receiverUser = receiver === 'bob' ? bob : dave;
      const arrived = await eventually(async () => {
        const messages = await history(b, receiverUser, `${sender.username}@a`);
        expect(messages).toHaveLength(125);
        return messages;
      }, 20_000);
      expect(arrived.map((m) => m.message)).toEqual(outgoing.map((m) => m.message));
    }
    await eventually(async () => {
      for (const [sender, receiver] of pairs) expect((await history(a, sender, `${receiver}@b`)).every((m) => m.status === 'delivered')).toBe(true);
    });
    const requests = proxy.count(TRANSACTIONS_PATH);
    expect(requests).toBeGreaterThan(0);
    // Sends arrive over time and one transaction is in flight at once: what piles up meanwhile leaves together.
    expect(requests).toBeLessThan(200);
    expect(proxy.count(RECEIVE_PATH)).toBe(0);
    expect(await metric(a, 'realchat_federation_transactions_total', 'outcome="results"')).toBe(requests);
    expect(await metric(a, 'realchat_federation_transaction_items_sum', 'peer="b"')).toBe(500);
    expect(await metric(a, 'realchat_federation_transaction_seconds_count', 'peer="b"')).toBe(requests);
  });

  it('sends a transaction of one to an idle peer at once, and answers delivered', async () => {
    const response = await send(a, alice, 'bob@b', 'alone');
    expect(response.body.status).toBe('delivered');
    expect(proxy.paths()).toEqual({ [TRANSACTIONS_PATH]: 1 });
  });

  it('queues while b is down, then delivers the queue in a few transactions, once each and in order', async () => {
    await b.stop();
    const texts = Array.from({ length: 20 }, (_, n) => `while down ${n}`);
    for (const text of texts) expect((await send(a, alice, 'dave@b', text)).body.status).toBe('queued');
    await b.start();
    proxy.resetCounts();
    const arrived = await eventually(async () => {
      const messages = (await history(b, dave, 'alice@a')).filter((m) => m.message.startsWith('while down'));
      expect(messages).toHaveLength(20);
      return messages;
    }, 20_000);
    expect(arrived.map((m) => m.message)).toEqual(texts);
    expect(proxy.count(TRANSACTIONS_PATH)).toBeLessThanOrEqual(2);
    await eventually(async () => expect((await history(a, alice, 'dave@b')).slice(-20).map((m) => m.status)).toEqual(texts.map(() => 'delivered')));
  });

  it('falls back to v1 requests for a peer that answers 404 on the transactions path, in order', async () => {
    proxy.answer(TRANSACTIONS_PATH, 404);
    const texts = ['old peer 1', 'old peer 2', 'old peer 3'];
    const answers = await Promise.all(texts.map((text) => send(a, carol, 'bob@b', text)));
    expect(answers.map((answer) => answer.body.status)).toEqual(['delivered', 'delivered', 'delivered']);
    expect((await history(b, bob, 'carol@a')).slice(-3).map((m) => m.message)).toEqual(inStoredOrder(texts, answers));
    // One 404, then v1 for the next 10 minutes.
    expect(proxy.count(TRANSACTIONS_PATH)).toBe(1);
    expect(proxy.count(RECEIVE_PATH)).toBe(3);
    proxy.answer(TRANSACTIONS_PATH, undefined);
    expect((await send(a, carol, 'bob@b', 'still v1')).body.status).toBe('delivered');
    expect(proxy.count(RECEIVE_PATH)).toBe(4);
    // The longest text the API takes, four bytes of UTF-8 a character, fits a v1 request too.
    const longest = '𝐀'.repeat(10_000);
    expect((await send(a, carol, 'bob@b', longest)).body.status).toBe('delivered');
    expect((await history(b, bob, 'carol@a')).filter((m) => m.message === longest)).toHaveLength(1);
  });
});

describeEachDatabase('group items for a peer on v1', (database) => {
  it('wait while the peer takes v1 requests, and reach it once it takes transactions again', async () => {
    // One clock for both backends, moved on past the 10 minutes of v1 (tokens and signatures agree).
    let skipped = 0;
    const clock = () => Date.now() + skipped;
    const proxy = await new RecordingProxy().listen();
    const [a, b] = (await startBackends(database, ['a', 'b'], {
      peers: (name, peers) => (name === 'a' ? peers.map((peer) => ({ ...peer, url: proxy.url })) : peers),
      env: { SEND_RATE: 'off', FEDERATION_TIMEOUT: '2s' },
      server: { clock, outbox: { random: () => 0, pollIntervalMs: 50 } },
    })) as [Backend, Backend];
    proxy.target = b.url;
    try {
      const [alice, bob] = await Promise.all([registerUser(a.url, 'alice'), registerUser(b.url, 'bob')]);
      proxy.answer(TRANSACTIONS_PATH, 404);
      expect((await send(a, alice, 'bob@b', 'a direct message goes by v1')).body.status).toBe('delivered');
      const created = await call(a.url, 'POST', '/accounts/groups/', { name: 'Made during v1', members: ['bob@b'] }, { token: alice.token });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      const id = created.body.id as string;
      expect((await call(a.url, 'POST', '/accounts/send-message/', { message: 'sent during v1', group: id }, { token: alice.token })).status).toBe(201);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect((await call(b.url, 'GET', '/accounts/groups/', undefined, { token: bob.token })).body.results).toEqual([]);

      proxy.answer(TRANSACTIONS_PATH, undefined);
      skipped = V1_FALLBACK_MS + 1000;
      await eventually(async () => {
        const history = await call(b.url, 'GET', `/accounts/messages/?group=${id}`, undefined, { token: bob.token });
        expect(history.status).toBe(200);
        expect(history.body.results.map((m: Message) => m.message)).toEqual(['sent during v1']);
      }, 20_000);
      const seen = await call(b.url, 'GET', `/accounts/groups/${id}/`, undefined, { token: bob.token });
      expect(seen.body.name).toBe('Made during v1');
    } finally {
      await Promise.all([a.destroy(), b.destroy()]);
      await proxy.close();
    }
  }, 40_000);
});

describeEachDatabase('transactions and the original backend', (database) => {
  it('sends a slow original backend each message once, though its line takes longer than a lease', async () => {
    const key = (await import('../../helpers/app.js')).newKey();
    const original = await startFakeOriginal({ key, token: 'drf-token-of-our-account', users: ['alice', 'bob'] });
    const proxy = await new RecordingProxy(original.url).listen();
    // Each answer takes 300 ms: one receiver's 15 messages, one after another, outlast the lease
    // of FEDERATION_TIMEOUT + 2 s; the original keeps every request it gets as a new message.
    proxy.delay(300);
    const [a] = await startBackends(database, ['a'], {
      env: { PEERS: '', PEER_NAME: 'orig', PEER_URL: proxy.url, PEER_COMPAT: 'true', PEER_TOKEN: 'drf-token-of-our-account', ENCRYPTION_KEY: key, FEDERATION_TIMEOUT: '1s', SEND_RATE: 'off' },
    });
    try {
      const alice = await registerUser(a!.url, 'alice');
      const texts = Array.from({ length: 15 }, (_, n) => `slow original ${n}`);
      const answers = await Promise.all(texts.map((text) => send(a!, alice, 'bob@orig', text)));
      expect(answers.map((answer) => answer.status)).toEqual(texts.map(() => 201));
      await eventually(async () => expect((await history(a!, alice, 'bob@orig')).map((m) => m.status)).toEqual(texts.map(() => 'delivered')), 20_000);
      // Nothing left that could still go twice.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(original.received.map((delivery) => delivery.text)).toEqual(inStoredOrder(texts, answers));
    } finally {
      await a!.destroy();
      await proxy.close();
      await original.close();
    }
  }, 40_000);

  it('sends the original backend (a compat peer) v1 requests only', async () => {
    const key = (await import('../../helpers/app.js')).newKey();
    const original = await startFakeOriginal({ key, token: 'drf-token-of-our-account', users: ['alice', 'bob'] });
    const proxy = await new RecordingProxy(original.url).listen();
    const [a] = await startBackends(database, ['a'], {
      env: { PEERS: '', PEER_NAME: 'orig', PEER_URL: proxy.url, PEER_COMPAT: 'true', PEER_TOKEN: 'drf-token-of-our-account', ENCRYPTION_KEY: key },
    });
    try {
      const alice = await registerUser(a!.url, 'alice');
      const texts = ['to the original 1', 'to the original 2', 'to the original 3'];
      const answers = await Promise.all(texts.map((text) => send(a!, alice, 'bob@orig', text)));
      expect(answers.map((answer) => answer.body.status)).toEqual(['delivered', 'delivered', 'delivered']);
      expect(original.received.map((delivery) => delivery.text)).toEqual(inStoredOrder(texts, answers));
      expect(proxy.paths()).toEqual({ [RECEIVE_PATH]: 3 });
    } finally {
      await a!.destroy();
      await proxy.close();
      await original.close();
    }
  });
});
