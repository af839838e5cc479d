// Typing indicators and presence on one instance: passed on only between conversation
// partners, typing at most once per sender and partner every 2 s, presence online with the
// first socket and offline PRESENCE_GRACE after the last one closed (a short grace here).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { describeEachDatabase } from '../helpers/databases.js';
import { call, registerUser, type RegisteredUser } from '../helpers/http.js';
import { openSocket, type TestSocket } from './socket.js';

const GRACE_MS = 300;

describeEachDatabase('typing and presence', (database) => {
  let app: TestApp;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    app = await startTestApp({ database, env: { PRESENCE_GRACE: `${GRACE_MS}ms` } });
  });
  afterEach(async () => {
    await Promise.all(sockets.splice(0).map((socket) => socket.close()));
  });
  afterAll(() => app.destroy());

  async function connect(user: RegisteredUser): Promise<TestSocket> {
    const socket = await openSocket(app.url, user.token);
    sockets.push(socket);
    await socket.roundTrip();
    return socket;
  }
  async function users(count: number): Promise<RegisteredUser[]> {
    return Promise.all(Array.from({ length: count }, () => registerUser(app.url)));
  }
  /** Makes two users conversation partners: one message each way (one alone does not). */
  async function talk(from: RegisteredUser, to: RegisteredUser): Promise<void> {
    for (const [sender, receiver] of [[from, to], [to, from]] as const) {
      expect((await call(app.url, 'POST', '/accounts/send-message/', { message: 'hi', receiver: receiver.username }, { token: sender.token })).status).toBe(201);
    }
  }
  const typingFrom = (user: RegisteredUser) => (frame: Record<string, unknown>) => frame.type === 'typing' && frame.from === user.username;
  const presenceOf = (user: RegisteredUser, status?: string) => (frame: Record<string, unknown>) =>
    frame.type === 'presence' && frame.user === user.username && (status === undefined || frame.status === status);

  describe('typing', () => {
    it('reaches a partner’s sessions, both ways, and not a stranger', async () => {
      const [alice, bob, carol] = await users(3);
      await talk(alice, bob);
      const [alices, bobsPhone, bobsLaptop, carols] = [await connect(alice), await connect(bob), await connect(bob), await connect(carol)];

      // To a stranger, to nobody, to a remote address: dropped silently, the socket stays open.
      for (const to of [carol.username, 'nobody-here', 'bob@elsewhere']) alices.send({ type: 'typing', to });
      alices.send({ type: 'typing', to: bob.username });
      expect(await bobsPhone.next(typingFrom(alice))).toEqual({ type: 'typing', from: alice.username });
      expect(await bobsLaptop.next(typingFrom(alice))).toEqual({ type: 'typing', from: alice.username });
      bobsPhone.send({ type: 'typing', to: alice.username.toUpperCase() });
      expect(await alices.next(typingFrom(bob))).toEqual({ type: 'typing', from: bob.username });

      await carols.roundTrip();
      expect(carols.received.filter((frame) => frame.type === 'typing')).toEqual([]);
      await alices.roundTrip();
    });

    it('passes on at most one indicator per sender and partner every 2 s', async () => {
      const [alice, bob] = await users(2);
      await talk(alice, bob);
      const [alices, bobs] = [await connect(alice), await connect(bob)];
      for (let i = 0; i < 5; i++) alices.send({ type: 'typing', to: bob.username });
      await bobs.next(typingFrom(alice));
      const first = Date.now();
      await talk(alice, bob);
      await bobs.next((frame) => frame.type === 'message');
      expect(bobs.received.filter((frame) => frame.type === 'typing')).toEqual([]);

      // Keep typing: the next indicator comes through once the 2 s window has passed.
      const again = bobs.next(typingFrom(alice), 5000);
      const keepTyping = setInterval(() => alices.send({ type: 'typing', to: bob.username }), 100);
      try {
        await again;
      } finally {
        clearInterval(keepTyping);
      }
      expect(Date.now() - first).toBeGreaterThanOrEqual(1900);
    });

    it('closes a socket whose typing frame has no "to" with 1008', async () => {
      const [alice] = await users(1);
      const alices = await connect(alice);
      alices.send({ type: 'typing' });
      expect((await alices.closed).code).toBe(1008);
    });
  });

  describe('presence', () => {
    it('tells partners when a user comes online and, a grace period after the last socket closed, goes offline', async () => {
      const [alice, bob, carol] = await users(3);
      await talk(bob, alice);
      const alices = await connect(alice);
      const carols = await connect(carol);

      const bobsPhone = await connect(bob);
      expect(await alices.next(presenceOf(bob))).toEqual({ type: 'presence', user: bob.username, status: 'online', last_seen: null });
      const lookup = await call(app.url, 'GET', `/accounts/presence/?users=${bob.username},${carol.username},nobody`, undefined, { token: alice.token });
      expect(lookup).toMatchObject({ status: 200, body: { [bob.username]: { status: 'online', last_seen: null } } });
      expect(Object.keys(lookup.body)).toEqual([bob.username]);

      // A second socket, then the first one closed: still online.
      const bobsLaptop = await connect(bob);
      await bobsPhone.close();
      const closedAt = Date.now();
      await bobsLaptop.close();
      const offline = await alices.next(presenceOf(bob), 5000);
      const wentOffline = Date.now();
      expect(offline).toEqual({ type: 'presence', user: bob.username, status: 'offline', last_seen: expect.any(String) });
      // The phone's close did not count: offline came a grace after the laptop's.
      expect(wentOffline - closedAt).toBeGreaterThanOrEqual(GRACE_MS - 50);
      expect(Math.abs(Date.parse(offline.last_seen as string) - closedAt)).toBeLessThan(1000);
      const after = await call(app.url, 'GET', `/accounts/presence/?users=${bob.username}`, undefined, { token: alice.token });
      expect(after.body).toEqual({ [bob.username]: { status: 'offline', last_seen: offline.last_seen } });

      // Carol has no conversation with bob: she is told nothing, and asking gets her nothing.
      await carols.roundTrip();
      expect(carols.received.filter((frame) => frame.type === 'presence')).toEqual([]);
      expect((await call(app.url, 'GET', `/accounts/presence/?users=${bob.username}`, undefined, { token: carol.token })).body).toEqual({});
    });

    it('does not flicker when a user reconnects within the grace period', async () => {
      const [alice, bob, dave] = await users(3);
      await talk(bob, alice);
      await talk(dave, alice);
      const alices = await connect(alice);
      const bobs = await connect(bob);
      const daves = await connect(dave);
      await alices.next(presenceOf(bob, 'online'));
      await alices.next(presenceOf(dave, 'online'));

      await bobs.close();
      await connect(bob);
      await daves.close();
      // Dave's offline comes a grace after his close, and so after bob's would have.
      await alices.next(presenceOf(dave, 'offline'), 5000);
      await alices.roundTrip();
      expect(alices.received.filter(presenceOf(bob))).toEqual([]);
      expect((await call(app.url, 'GET', `/accounts/presence/?users=${bob.username}`, undefined, { token: alice.token })).body).toEqual({
        [bob.username]: { status: 'online', last_seen: null },
      });
    });

    it('answers 400 for an empty or too long list, and 401 without a token', async () => {
      const [alice] = await users(1);
      for (const query of ['', '?users=', '?users=,,', `?users=${Array.from({ length: 101 }, (_, i) => `u${i}`).join(',')}`]) {
        const response = await call(app.url, 'GET', `/accounts/presence/${query}`, undefined, { token: alice.token });
        expect(response.status, query).toBe(400);
        expect(response.body.code).toBe('validation_error');
      }
      expect((await call(app.url, 'GET', '/accounts/presence/?users=x')).status).toBe(401);
    });
  });
});
