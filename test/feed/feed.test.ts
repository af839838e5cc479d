// The change feed: every event a user can receive, numbered, over HTTP exactly as the socket
// sends it; pruned after EVENT_RETENTION with 410 gone; and replayed on the socket with no gap
// and no duplicate while new events keep coming.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startBackends, type Backend } from '../helpers/backends.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { describeEachDatabase } from '../helpers/databases.js';
import { call, registerUser, type RegisteredUser } from '../helpers/http.js';
import { closedWithin, openSocket, type TestSocket } from '../realtime/socket.js';

type Event = Record<string, unknown> & { type: string; seq: number };

async function feed(url: string, user: RegisteredUser, after = 0, limit?: number): Promise<Event[]> {
  const events: Event[] = [];
  let cursor: number | null = after;
  while (cursor !== null) {
    const response = await call(url, 'GET', `/accounts/events/?after=${cursor}${limit ? `&limit=${limit}` : ''}`, undefined, { token: user.token });
    expect(response.status).toBe(200);
    events.push(...(response.body.results as Event[]));
    cursor = response.body.next as number | null;
  }
  return events;
}

/** Opens a socket authenticated by its first frame, replaying after `after` when given. */
async function replaying(url: string, user: RegisteredUser, after?: number): Promise<TestSocket> {
  const socket = await openSocket(url);
  socket.send({ type: 'auth', token: user.token, ...(after === undefined ? {} : { after }) });
  return socket;
}

/** Every feed event (a frame with a seq) the socket receives, whatever next() consumes. */
function recordFeed(socket: TestSocket): Event[] {
  const frames: Event[] = [];
  socket.ws.on('message', (data) => {
    const frame = JSON.parse(data.toString()) as Event;
    if (typeof frame.seq === 'number') frames.push(frame);
  });
  return frames;
}

describeEachDatabase('the change feed', (database) => {
  describe('with a peer', () => {
    let a: Backend;
    let b: Backend;
    let alice: RegisteredUser;
    let carol: RegisteredUser;
    let socket: TestSocket;

    beforeAll(async () => {
      [a, b] = await startBackends(database, ['a', 'b']);
      [alice, carol] = await Promise.all([registerUser(a.url, 'alice'), registerUser(a.url, 'carol'), registerUser(b.url, 'bob')]);
    });
    afterAll(async () => {
      await socket?.close();
      await Promise.all([a.destroy(), b.destroy()]);
    });

    it('returns each send, edit, delete, read marker and status change once, in order, as the socket sent it', async () => {
      socket = await openSocket(a.url, alice.token);
      const sentLive = recordFeed(socket);
      await socket.roundTrip();
      const send = async (from: RegisteredUser, receiver: string, message: string) =>
        (await call(a.url, 'POST', '/accounts/send-message/', { message, receiver }, { token: from.token })).body.id as number;
      const live = (type: string, id: number) => socket.next((frame) => frame.type === type && ((frame.message as { id?: number })?.id === id || frame.id === id || frame.up_to === id));

      const m1 = await send(alice, 'carol', 'first');
      await live('message', m1);
      const m2 = await send(carol, 'alice', 'second');
      await live('message', m2);
      const m3 = await send(alice, 'bob@b', 'to the peer');
      await live('message', m3);
      await live('status', m3);
      expect((await call(a.url, 'PATCH', `/accounts/messages/${m1}/`, { message: 'first, edited' }, { token: alice.token })).status).toBe(200);
      await live('message_updated', m1);
      expect((await call(a.url, 'DELETE', `/accounts/messages/${m3}/`, undefined, { token: alice.token })).status).toBe(204);
      await live('message_updated', m3);
      expect((await call(a.url, 'POST', `/accounts/messages/${m1}/read/`, undefined, { token: carol.token })).status).toBe(200);
      await live('read', m1);
      const m4 = await send(alice, 'ghost@b', 'to nobody');
      await live('message', m4);
      await live('status', m4);
      await socket.roundTrip();

      const events = await feed(a.url, alice);
      expect(events.map((event) => [event.type, (event.message as { id?: number } | undefined)?.id ?? event.id ?? event.up_to])).toEqual([
        ['message', m1],
        ['message', m2],
        ['message', m3],
        ['status', m3],
        ['message_updated', m1],
        ['message_updated', m3],
        ['read', m1],
        ['message', m4],
        ['status', m4],
      ]);
      const seqs = events.map((event) => event.seq);
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      expect(new Set(seqs).size).toBe(seqs.length);

      // The socket sent the same events with the same seqs; the feed shows messages as they are now.
      expect(sentLive.map((event) => [event.seq, event.type])).toEqual(events.map((event) => [event.seq, event.type]));
      for (const [index, event] of events.entries()) if (!event.message) expect(sentLive[index]).toEqual(event);
      expect(events.find((event) => event.type === 'status' && event.id === m3)).toEqual({ type: 'status', seq: expect.any(Number), id: m3, status: 'delivered' });
      expect(events.find((event) => event.type === 'status' && event.id === m4)).toEqual({ type: 'status', seq: expect.any(Number), id: m4, status: 'failed' });
      expect(events.find((event) => event.type === 'read')).toEqual({ type: 'read', seq: expect.any(Number), with: 'carol', up_to: m1, read_at: expect.any(String) });
      expect(events[0]!.message).toMatchObject({ id: m1, message: 'first, edited', edited_at: expect.any(String), read_at: expect.any(String) });
      expect(events[2]!.message).toMatchObject({ id: m3, message: '', deleted: true });

      // Carol's feed has her own events only: no read marker (she read), no status.
      expect((await feed(a.url, carol)).map((event) => event.type)).toEqual(['message', 'message', 'message_updated']);
    });

    it('gives the same events page by page, and nothing after the last seq', async () => {
      const all = await feed(a.url, alice);
      expect(await feed(a.url, alice, 0, 2)).toEqual(all);
      expect(await feed(a.url, alice, all[3]!.seq, 1)).toEqual(all.slice(4));
      const last = await call(a.url, 'GET', `/accounts/events/?after=${all.at(-1)!.seq}`, undefined, { token: alice.token });
      expect(last.body).toEqual({ results: [], next: null });
    });

    it('answers bad parameters with 400 and no token with 401', async () => {
      for (const query of ['', '?after=-1', '?after=x', '?after=0&limit=0', '?after=0&limit=501']) {
        const response = await call(a.url, 'GET', `/accounts/events/${query}`, undefined, { token: alice.token });
        expect(response.status, query).toBe(400);
        expect(response.body.code).toBe('validation_error');
      }
      expect((await call(a.url, 'GET', '/accounts/events/?after=0')).status).toBe(401);
    });
  });

  describe('live events and the feed agree', () => {
    let app: TestApp;
    afterEach(() => app?.destroy());

    it('sends on the socket exactly the events the feed returns', async () => {
      app = await startTestApp({ database });
      const [alice, bob] = await Promise.all([registerUser(app.url), registerUser(app.url)]);
      const socket = await openSocket(app.url, alice.token);
      const live = recordFeed(socket);
      await socket.roundTrip();
      for (let i = 0; i < 5; i++) await call(app.url, 'POST', '/accounts/send-message/', { message: `n${i}`, receiver: alice.username }, { token: bob.token });
      const events = await feed(app.url, alice);
      expect(events).toHaveLength(5);
      await socket.next((frame) => frame.seq === events.at(-1)!.seq);
      await socket.close();
      // No message changed after it was sent: the live frames, the feed and a replay are identical.
      expect(live).toEqual(events);
      const again = await replaying(app.url, alice, 0);
      const replayed = recordFeed(again);
      await again.next((frame) => frame.seq === events.at(-1)!.seq);
      expect(replayed).toEqual(events);
      await again.close();
    });

    it('replays after a seq on the socket while a writer keeps sending: every seq once, none missing', async () => {
      // Thousands of sends from two users: past any per-user send budget.
      app = await startTestApp({ database, env: { SEND_RATE: 'off' } });
      const [alice, bob, carol] = await Promise.all([registerUser(app.url), registerUser(app.url), registerUser(app.url)]);
      const sendMany = async (from: RegisteredUser, prefix: string, count: number, inFlight: number) => {
        for (let i = 0; i < count; i += inFlight) {
          await Promise.all(
            Array.from({ length: Math.min(inFlight, count - i) }, (_, j) =>
              call(app.url, 'POST', '/accounts/send-message/', { message: `${prefix} ${i + j}`, receiver: alice.username }, { token: from.token }),
            ),
          );
        }
      };
      // Several pages of the feed to replay (500 a page), so that writes land while it is read.
      await sendMany(bob, 'before', 3000, 100);
      const from = (await feed(app.url, alice, 0, 500))[50]!.seq;
      // Many sends in flight, so that events commit while every page of the replay is read.
      let written = 0;
      const writer = (async () => {
        for (let round = 0; round < 40; round++) {
          await sendMany(carol, `during ${round}`, 25, 25);
          written += 25;
        }
      })();
      while (written < 50) await new Promise((resolve) => setTimeout(resolve, 5));

      const socket = await replaying(app.url, alice, from);
      const received = recordFeed(socket);
      await writer;
      const expected = await feed(app.url, alice, from);
      expect(expected.length).toBeGreaterThan(3500);
      await socket.next((frame) => frame.seq === expected.at(-1)!.seq, 20_000);
      await socket.roundTrip();
      await socket.close();

      expect(received.map((event) => event.seq)).toEqual(expected.map((event) => event.seq));
      expect(received).toEqual(expected);
    });

    it('answers 410 gone once events older than EVENT_RETENTION are pruned, with the seq to continue from', async () => {
      let now = Date.now();
      app = await startTestApp({ database, clock: () => now, feedPruneIntervalMs: 50, env: { EVENT_RETENTION: '1h' } });
      const [alice, bob] = await Promise.all([registerUser(app.url), registerUser(app.url)]);
      for (const text of ['old one', 'old two']) await call(app.url, 'POST', '/accounts/send-message/', { message: text, receiver: alice.username }, { token: bob.token });
      const old = await feed(app.url, alice);
      expect(old).toHaveLength(2);

      now += 2 * 3_600_000;
      let gone: { status: number; body: { seq: number } } | undefined;
      await expect
        .poll(async () => {
          gone = await call(app.url, 'GET', '/accounts/events/?after=0', undefined, { token: alice.token });
          return gone.status;
        })
        .toBe(410);
      expect(gone!.body).toEqual({ detail: expect.any(String), code: 'gone', seq: expect.any(Number) });
      const resume = gone!.body.seq as number;
      expect(resume).toBeGreaterThanOrEqual(old.at(-1)!.seq);
      expect((await call(app.url, 'GET', `/accounts/events/?after=${old[0]!.seq}`, undefined, { token: alice.token })).status).toBe(410);

      // From the seq given, nothing is gone and new events follow.
      expect(await feed(app.url, alice, resume)).toEqual([]);
      await call(app.url, 'POST', '/accounts/send-message/', { message: 'new', receiver: alice.username }, { token: bob.token });
      expect((await feed(app.url, alice, resume)).map((event) => (event.message as { message: string }).message)).toEqual(['new']);

      // A socket asking for a pruned range is told so (the seq given now covers the new message too), and closed with 4410.
      const socket = await replaying(app.url, alice, 0);
      const refusal = await socket.next();
      expect(refusal).toEqual({ type: 'error', code: 'gone', detail: expect.any(String), seq: expect.any(Number) });
      expect(refusal.seq).toBeGreaterThan(resume);
      expect((await closedWithin(socket)).code).toBe(4410);
      const resumed = await replaying(app.url, alice, resume);
      expect(await resumed.next()).toMatchObject({ type: 'message', message: { message: 'new' } });
      await resumed.close();
    });

    it('answers 410 gone to a seq past any given out (a restored database), instead of holding back every event until it comes', async () => {
      app = await startTestApp({ database });
      const [alice, bob] = await Promise.all([registerUser(app.url), registerUser(app.url)]);
      await call(app.url, 'POST', '/accounts/send-message/', { message: 'seen', receiver: alice.username }, { token: bob.token });
      const [seen] = await feed(app.url, alice);
      const ahead = seen!.seq + 1000;
      const gone = await call(app.url, 'GET', `/accounts/events/?after=${ahead}`, undefined, { token: alice.token });
      expect(gone.status).toBe(410);
      expect(gone.body).toEqual({ detail: expect.any(String), code: 'gone', seq: seen!.seq });
      // The newest seq itself is fine: nothing after it yet.
      expect(await feed(app.url, alice, seen!.seq)).toEqual([]);
      const socket = await replaying(app.url, alice, ahead);
      expect(await socket.next()).toEqual({ type: 'error', code: 'gone', detail: expect.any(String), seq: seen!.seq });
      expect((await closedWithin(socket)).code).toBe(4410);
    });

    it('closes a socket whose auth frame has a bad after with 1008', async () => {
      app = await startTestApp({ database });
      const alice = await registerUser(app.url);
      for (const after of [-1, 1.5, '3', null]) {
        const socket = await openSocket(app.url);
        socket.send({ type: 'auth', token: alice.token, after });
        expect((await closedWithin(socket)).code).toBe(1008);
      }
    });
  });
});
