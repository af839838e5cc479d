// Federation between real backends on loopback, each with its own database: messages reach
// the peer and show in both histories, survive a peer being down, keep their order per
// receiver, and end as failed when the peer refuses them or for good after FEDERATION_GIVE_UP.
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WAITING_BEHIND_EARLIER } from '../../src/federation/outbox/repository.js';
import { InProcessEventBus, type RealtimeEvent } from '../../src/realtime/bus.js';
import { startBackends, type Backend } from '../helpers/backends.js';
import { describeEachDatabase } from '../helpers/databases.js';
import { call, registerUser, type RegisteredUser } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { captureLog } from '../helpers/log.js';
import { eventually } from './peer-requests.js';

async function history(backend: Backend, user: RegisteredUser, partner: string) {
  const response = await call(backend.url, 'GET', `/accounts/messages/?with=${encodeURIComponent(partner)}&limit=200`, undefined, { token: user.token });
  expect(response.status).toBe(200);
  return response.body.results as { id: number; sender: string; receiver: string; message: string; status: string; read_at: string | null }[];
}

function send(backend: Backend, from: RegisteredUser, receiver: string, message: string) {
  return call(backend.url, 'POST', '/accounts/send-message/', { message, receiver }, { token: from.token });
}

describeEachDatabase('federation between two backends', (database) => {
  let a: Backend;
  let b: Backend;
  let alice: RegisteredUser;
  let bob: RegisteredUser;
  const events: { userId: number; event: RealtimeEvent }[] = [];

  beforeAll(async () => {
    const bus = new InProcessEventBus();
    bus.subscribe((userId, event) => events.push({ userId, event }));
    [a, b] = await startBackends(database, ['a', 'b'], { start: false });
    // Retries at the low end of their jitter keep the test short.
    await Promise.all([a.start({}, { bus, outbox: { random: () => 0 } }), b.start()]);
    alice = await registerUser(a.url, 'alice');
    bob = await registerUser(b.url, 'bob');
  });
  afterAll(async () => {
    await Promise.all([a.destroy(), b.destroy()]);
  });

  it('delivers alice@a to bob@b, and the message shows in both histories', async () => {
    const sent = await send(a, alice, 'bob@b', 'Hello, World!');

    expect(sent.status).toBe(201);
    expect(sent.body.status).toBe('delivered');
    expect(await history(a, alice, 'bob@b')).toEqual([
      expect.objectContaining({ id: sent.body.id, sender: 'alice', receiver: 'bob@b', message: 'Hello, World!', status: 'delivered' }),
    ]);
    expect(await history(b, bob, 'alice@a')).toEqual([expect.objectContaining({ sender: 'alice@a', receiver: 'bob', message: 'Hello, World!', status: 'delivered' })]);

    const reply = await send(b, bob, 'alice@a', 'Hello, alice');
    expect(reply.body.status).toBe('delivered');
    expect((await history(a, alice, 'bob@b')).map((m) => m.message)).toEqual(['Hello, alice', 'Hello, World!']);
    const conversations = await call(b.url, 'GET', '/accounts/conversations/', undefined, { token: bob.token });
    expect(conversations.body.results).toEqual([expect.objectContaining({ with: 'alice@a', unread: 1 })]);
  });

  it('keeps the spelling each message was sent to in every later read of it', async () => {
    const [frank] = await Promise.all([registerUser(a.url, 'frank'), registerUser(b.url, 'gina')]);
    await send(a, frank, 'gina@b', 'first spelling');
    const second = await send(a, frank, 'Gina@B', 'second spelling');
    expect(second.body.status).toBe('delivered');

    const seen = await history(a, frank, 'gina@b');
    expect(seen.map((m) => [m.message, m.receiver])).toEqual([
      ['second spelling', 'Gina@b'],
      ['first spelling', 'gina@b'],
    ]);
    const caughtUp = await call(a.url, 'GET', '/accounts/messages/?after=0&limit=200', undefined, { token: frank.token });
    expect(caughtUp.body.results.map((m: { receiver: string }) => m.receiver)).toEqual(['gina@b', 'Gina@b']);
  });

  it('lets only the receiver mark a message read: its sender is refused, the receiver on a peer too', async () => {
    const [hana] = await Promise.all([registerUser(a.url, 'hana'), registerUser(b.url, 'ivan')]);
    const sent = await send(a, hana, 'ivan@b', 'read me, not you');
    expect(sent.body.status).toBe('delivered');

    const bySender = await call(a.url, 'POST', `/accounts/messages/${sent.body.id}/read/`, undefined, { token: hana.token });
    expect(bySender.status).toBe(403);
    expect(bySender.body.code).toBe('forbidden');
    expect((await history(a, hana, 'ivan@b'))[0]).toEqual(expect.objectContaining({ id: sent.body.id, read_at: null }));
  });

  it('sends a bare name that is not local to the one configured peer', async () => {
    const sent = await send(a, alice, 'bob', 'bare name');
    expect(sent.body.status).toBe('delivered');
    expect((await history(b, bob, 'alice@a'))[0]!.message).toBe('bare name');
  });

  it('delivers a burst to one receiver in its order, each send answered once the one before it is through', async () => {
    const [erin, dave] = await Promise.all([registerUser(a.url, 'erin'), registerUser(b.url, 'dave')]);
    const texts = Array.from({ length: 6 }, (_, n) => `burst ${n}`);
    // Sent together: they share a batch, and all but the first are written behind another.
    const answers = await Promise.all(texts.map((text) => send(a, erin, 'dave@b', text)));

    expect(answers.map((answer) => answer.body.status)).toEqual(texts.map(() => 'delivered'));
    // Stored on b in the order a accepted them (the order of a's ids).
    const accepted = texts.map((text, n) => ({ text, id: answers[n]!.body.id as number })).sort((x, y) => x.id - y.id);
    expect((await history(b, dave, 'erin@a')).map((m) => m.message).reverse()).toEqual(accepted.map((m) => m.text));
  });

  it('marks a message failed, keeping the peer code, when the peer has no such receiver', async () => {
    const sent = await send(a, alice, 'ghost@b', 'anyone?');
    expect(sent.status).toBe(201);
    expect(sent.body.status).toBe('failed');
    const db = a.openDatabase();
    try {
      const row = await db.db.selectFrom('message_deliveries').select(['status', 'failure_code']).where('message_id', '=', sent.body.id).executeTakeFirstOrThrow();
      expect(row).toEqual({ status: 'failed', failure_code: 'unknown_receiver' });
    } finally {
      await db.close();
    }
  });

  it('queues while the peer is down, then delivers every message once and in order', async () => {
    await b.stop();
    events.length = 0;
    const ids: number[] = [];
    for (let i = 0; i < 6; i++) {
      const started = Date.now();
      const sent = await send(a, alice, 'bob@b', `queued ${i}`);
      expect(Date.now() - started).toBeLessThan(1000);
      expect(sent.body.status).toBe('queued');
      ids.push(sent.body.id);
    }
    expect((await history(a, alice, 'bob@b')).slice(0, 6).map((m) => m.status)).toEqual(Array(6).fill('queued'));

    await b.start();
    await eventually(async () => {
      const statuses = (await history(a, alice, 'bob@b')).slice(0, 6).map((m) => m.status);
      expect(statuses).toEqual(Array(6).fill('delivered'));
    }, 20_000);
    const received = (await history(b, bob, 'alice@a')).map((m) => m.message).filter((text) => text.startsWith('queued'));
    expect(received.reverse()).toEqual(['queued 0', 'queued 1', 'queued 2', 'queued 3', 'queued 4', 'queued 5']);
    const statusEvents = events.filter(({ event }) => event.type === 'status');
    expect(statusEvents.map(({ userId, event }) => [userId, event.id, event.status])).toEqual(ids.map((id) => [alice.id, id, 'delivered']));
  });
});

describeEachDatabase('federation with three backends', (database) => {
  let backends: Backend[];
  afterAll(() => Promise.all(backends.map((backend) => backend.destroy())));

  it('keeps each peer apart: bob@b talks with alice@a and carol@c in two conversations', async () => {
    backends = await startBackends(database, ['a', 'b', 'c']);
    const [a, b, c] = backends as [Backend, Backend, Backend];
    const [alice, bob, carol] = await Promise.all([registerUser(a.url, 'alice'), registerUser(b.url, 'bob'), registerUser(c.url, 'carol')]);

    expect((await send(a, alice, 'bob@b', 'from a')).body.status).toBe('delivered');
    expect((await send(c, carol, 'bob@b', 'from c')).body.status).toBe('delivered');
    expect((await send(a, alice, 'carol@c', 'a to c')).body.status).toBe('delivered');
    expect((await send(b, bob, 'alice', 'local name')).status).toBe(404);

    expect((await history(b, bob, 'alice@a')).map((m) => [m.sender, m.message])).toEqual([['alice@a', 'from a']]);
    expect((await history(b, bob, 'carol@c')).map((m) => [m.sender, m.message])).toEqual([['carol@c', 'from c']]);
    expect((await history(c, carol, 'alice@a')).map((m) => m.message)).toEqual(['a to c']);
    const conversations = await call(b.url, 'GET', '/accounts/conversations/', undefined, { token: bob.token });
    expect(conversations.body.results.map((row: { with: string }) => row.with)).toEqual(['carol@c', 'alice@a']);
  });
});

describe('a slow or dead peer', () => {
  let a: Backend;
  let blackHole: Server;
  const sockets: Socket[] = [];
  const log = captureLog();

  beforeAll(async () => {
    // Accepts connections and never answers, like a hung backend.
    const port = await freePort();
    blackHole = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => blackHole.listen(port, '127.0.0.1', resolve));
    [a] = await startBackends('sqlite', ['a'], {
      env: { FEDERATION_TIMEOUT: '1s', FEDERATION_GIVE_UP: '2s' },
      peers: () => [{ name: 'slow', url: `http://127.0.0.1:${port}`, key: 'ZmVkZXJhdGlvbi10ZXN0LWtleS1vZi0zMi1ieXRlcyE=' }, { name: 'dead', url: `http://127.0.0.1:${port + 1}`, key: 'ZmVkZXJhdGlvbi10ZXN0LWtleS1vZi0zMi1ieXRlcyE=' }],
      // The production default: a peer that does not answer within it leaves the message queued.
      server: { outbox: { random: () => 0, firstTryWaitMs: 300 }, logger: log.logger },
    });
  });
  afterAll(async () => {
    await a.destroy();
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => blackHole.close(resolve));
  });

  it('answers queued well within a second, then fails the message after FEDERATION_GIVE_UP', async () => {
    const alice = await registerUser(a.url, 'alice');
    for (const receiver of ['bob@slow', 'bob@dead']) {
      const started = Date.now();
      const sent = await send(a, alice, receiver, 'are you there?');
      expect(Date.now() - started).toBeLessThan(800);
      expect(sent.body.status).toBe('queued');
    }
    await eventually(async () => {
      const statuses = [...(await history(a, alice, 'bob@slow')), ...(await history(a, alice, 'bob@dead'))].map((m) => m.status);
      expect(statuses).toEqual(['failed', 'failed']);
    }, 15_000);
    const db = a.openDatabase();
    try {
      const codes = await db.db.selectFrom('message_deliveries').select('failure_code').execute();
      expect(codes.map((row) => row.failure_code)).toEqual(['gave_up', 'gave_up']);
      expect(await db.db.selectFrom('outbox').selectAll().execute()).toEqual([]);
    } finally {
      await db.close();
    }
    // The operator hears of each peer that stopped answering once, not at every retry, and of what was given up.
    const said = (msg: string) => log.entries().filter((entry) => entry.msg === msg);
    const unreachable = said('outbox: the peer cannot be reached; its messages wait and are retried');
    expect(unreachable.map((entry) => entry.peer).sort()).toEqual(['dead', 'slow']);
    expect(said('outbox: gave up on entries older than FEDERATION_GIVE_UP; their messages are failed').flatMap((entry) => entry.peers as string[]).sort()).toEqual(['dead', 'slow']);
  });

  it('keeps the messages behind the first one for a receiver waiting, and lets each go when the one before it ends', async () => {
    const carol = await registerUser(a.url, 'carol');
    for (const text of ['one', 'two', 'three']) expect((await send(a, carol, 'dave@dead', text)).body.status).toBe('queued');
    const db = a.openDatabase();
    try {
      // Only the first is ever due: a claim reads due entries alone, however long the line.
      const line = await db.db.selectFrom('outbox').select('next_attempt_at').where('receiver_key', '=', 'r:dave@dead').orderBy('id').execute();
      expect(line.map((entry) => entry.next_attempt_at === WAITING_BEHIND_EARLIER)).toEqual([false, true, true]);
      await eventually(async () => {
        expect((await history(a, carol, 'dave@dead')).map((m) => [m.message, m.status])).toEqual([
          ['three', 'failed'],
          ['two', 'failed'],
          ['one', 'failed'],
        ]);
      }, 15_000);
      expect(await db.db.selectFrom('outbox').selectAll().execute()).toEqual([]);
    } finally {
      await db.close();
    }
  });
});

describe('a peer that answers again', () => {
  /** Two backends and, once `freeze` is called, time that stands still: a backoff never runs out by itself. */
  async function withFrozenTime(run: (a: Backend, b: Backend, freeze: () => void) => Promise<void>): Promise<void> {
    let frozen: number | undefined;
    const [a, b] = (await startBackends('sqlite', ['a', 'b'], {
      env: { FEDERATION_TIMEOUT: '1s' },
      server: { clock: () => frozen ?? Date.now(), outbox: { random: () => 0, firstTryWaitMs: 300 } },
    })) as [Backend, Backend];
    try {
      await run(a, b, () => (frozen = Date.now()));
    } finally {
      await Promise.all([a.destroy(), b.destroy()]);
    }
  }

  it("retries its other receivers' waiting messages at once, not when their grown backoff runs out", async () => {
    await withFrozenTime(async (a, b, freeze) => {
      const [alice] = await Promise.all([registerUser(a.url, 'alice'), registerUser(b.url, 'bob'), registerUser(b.url, 'carol')]);
      await b.stop();
      freeze();
      expect((await send(a, alice, 'bob@b', 'while b was away')).body.status).toBe('queued');
      await b.start();
      expect((await send(a, alice, 'carol@b', 'b is back')).body.status).toBe('delivered');
      await eventually(async () => expect((await history(a, alice, 'bob@b')).map((m) => m.status)).toEqual(['delivered']));
    });
  });

  it('retries its waiting messages to a peer as soon as a request comes from it, not when their backoff runs out', async () => {
    await withFrozenTime(async (a, b, freeze) => {
      const [alice, bob] = await Promise.all([registerUser(a.url, 'alice'), registerUser(b.url, 'bob')]);
      await b.stop();
      freeze();
      expect((await send(a, alice, 'bob@b', 'while b was away')).body.status).toBe('queued');
      await b.start();
      // Nothing new goes from a to b; bob's message to alice tells a that b is back.
      expect((await send(b, bob, 'alice@a', 'I am back')).body.status).toBe('delivered');
      await eventually(async () => expect((await history(a, alice, 'bob@b')).map((m) => `${m.message}/${m.status}`)).toEqual(['I am back/delivered', 'while b was away/delivered']));
      expect((await history(b, bob, 'alice@a')).map((m) => m.message)).toEqual(['while b was away', 'I am back']);
    });
  });
});
