// The messages API over HTTP: sending, histories, catch-up, conversations and read markers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InProcessEventBus, type RealtimeEvent } from '../../src/realtime/bus.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { describeEachDatabase } from '../helpers/databases.js';
import { call, registerUser, type RegisteredUser } from '../helpers/http.js';

describeEachDatabase('messages API', (database) => {
  let app: TestApp;
  let alice: RegisteredUser;
  let bob: RegisteredUser;
  let carol: RegisteredUser;
  const events: { userId: number; event: RealtimeEvent }[] = [];

  beforeAll(async () => {
    const bus = new InProcessEventBus();
    bus.subscribe((userId, event) => events.push({ userId, event }));
    app = await startTestApp({ database, bus });
    [alice, bob, carol] = await Promise.all([registerUser(app.url), registerUser(app.url), registerUser(app.url)]);
  });
  afterAll(() => app.destroy());

  const send = (from: RegisteredUser, body: Record<string, unknown>, path = '/accounts/send-message/') => call(app.url, 'POST', path, body, { token: from.token });
  const get = (as: RegisteredUser, path: string) => call(app.url, 'GET', path, undefined, { token: as.token });

  describe('sending', () => {
    it('stores a message for a local receiver and shows it in both histories', async () => {
      const sent = await send(alice, { message: '  Hello, World!  ', receiver: bob.username });

      expect(sent.status).toBe(201);
      expect(sent.body).toEqual({ message: 'Message sent successfully', id: expect.any(Number), status: 'delivered', timestamp: expect.any(String) });
      const expected = {
        id: sent.body.id,
        sender: alice.username,
        receiver: bob.username,
        group: null,
        message: 'Hello, World!',
        timestamp: sent.body.timestamp,
        status: 'delivered',
        read_at: null,
        edited_at: null,
        deleted: false,
      };
      expect((await get(alice, `/accounts/messages/?with=${bob.username}`)).body.results).toEqual([expected]);
      expect((await get(bob, `/accounts/messages/?with=${alice.username}`)).body.results).toEqual([expected]);
    });

    it('accepts POST /accounts/messages/ with a JSON body as well', async () => {
      const sent = await send(bob, { message: 'via messages', receiver: alice.username }, '/accounts/messages/');
      expect(sent.status).toBe(201);
      expect(sent.body.status).toBe('delivered');
      const history = await get(alice, `/accounts/messages/?with=${bob.username}&limit=1`);
      expect(history.body.results[0]).toMatchObject({ id: sent.body.id, message: 'via messages', sender: bob.username });
    });

    it('publishes the message to the receiver and to the sender', async () => {
      const sent = await send(alice, { message: 'live', receiver: bob.username });
      const forMessage = events.filter(({ event }) => event.type === 'message' && (event.message as { id: number }).id === sent.body.id);
      expect(forMessage.map(({ userId }) => userId).sort()).toEqual([alice.id, bob.id].sort());
      expect(forMessage[0]!.event.message).toMatchObject({ message: 'live', sender: alice.username, receiver: bob.username });
    });

    it('returns the first result for a retried client_id and stores nothing new', async () => {
      const body = { message: 'once only', receiver: carol.username, client_id: 'retry-1' };
      const first = await send(alice, body);
      const [second, third] = await Promise.all([send(alice, body), send(alice, body)]);

      expect(first.status).toBe(201);
      expect(second.body).toEqual(first.body);
      expect(third.body).toEqual(first.body);
      const history = await get(carol, `/accounts/messages/?with=${alice.username}`);
      expect(history.body.results.filter((m: { message: string }) => m.message === 'once only')).toHaveLength(1);
    });

    it('returns the first result for a client_id retried after the message was edited or deleted', async () => {
      for (const [index, change] of (['PATCH', 'DELETE'] as const).entries()) {
        const body = { message: 'sent, then changed', receiver: carol.username, client_id: `changed-${index}` };
        const first = await send(alice, body);
        const changed = await call(app.url, change, `/accounts/messages/${first.body.id}/`, change === 'PATCH' ? { message: 'changed' } : undefined, { token: alice.token });
        expect(changed.status, change).toBeLessThan(300);

        const retried = await send(alice, body);
        expect(retried.status, change).toBe(201);
        expect(retried.body.id, change).toBe(first.body.id);
      }
    });

    it('keeps client ids per sender, and refuses one reused for another message with 409 duplicate', async () => {
      const mine = await send(bob, { message: 'same id, other sender', receiver: carol.username, client_id: 'retry-1' });
      expect(mine.status).toBe(201);

      const reused = await send(alice, { message: 'a different text', receiver: carol.username, client_id: 'retry-1' });
      expect(reused.status).toBe(409);
      expect(reused.body.code).toBe('duplicate');
    });

    it('answers 404 unknown_receiver for a name nobody has', async () => {
      for (const receiver of ['nobody-here', 'someone@unknown-peer']) {
        const response = await send(alice, { message: 'hello?', receiver });
        expect(response.status).toBe(404);
        expect(response.body.code).toBe('unknown_receiver');
      }
    });

    it('refuses a blank, a too long or a missing message with validation errors', async () => {
      const blank = await send(alice, { message: '   ', receiver: bob.username });
      expect(blank.status).toBe(400);
      expect(blank.body).toMatchObject({ code: 'validation_error', fields: { message: expect.any(Array) } });

      const long = await send(alice, { message: 'x'.repeat(10_001), receiver: bob.username });
      expect(long.status).toBe(400);
      expect(long.body.fields.message).toBeDefined();
      expect((await send(alice, { message: '😀'.repeat(10_000), receiver: bob.username })).status).toBe(201);

      const missing = await send(alice, { receiver: bob.username });
      expect(missing.status).toBe(400);
      expect(missing.body.fields.message).toEqual(['This field is required.']);
      const noReceiver = await send(alice, { message: 'hi' }, '/accounts/messages/');
      expect(noReceiver.body.fields.receiver).toEqual(['This field is required.']);
    });

    it('lists every problem of a send at once, as DRF does', async () => {
      for (const path of ['/accounts/send-message/', '/accounts/messages/']) {
        const empty = await send(alice, {}, path);
        expect(empty.status, path).toBe(400);
        expect(empty.body.fields, path).toEqual({ message: ['This field is required.'], receiver: ['This field is required.'] });
        const blank = await send(alice, { message: '  ' }, path);
        expect(blank.body.fields, path).toEqual({ message: ['This field may not be blank.'], receiver: ['This field is required.'] });
        // The schema's bound on the raw text says enough: not the service's too.
        const huge = await send(alice, { message: 'x'.repeat(40_001), receiver: bob.username }, path);
        expect(huge.body.fields.message, path).toHaveLength(1);
        const badReceiver = await send(alice, { message: '  ', receiver: [1] }, path);
        expect(Object.keys(badReceiver.body.fields).sort(), path).toEqual(['message', 'receiver']);
        expect(badReceiver.body.fields.receiver, path).toHaveLength(1);
      }
    });

    it('requires a token', async () => {
      const response = await call(app.url, 'POST', '/accounts/send-message/', { message: 'hi', receiver: bob.username });
      expect(response.status).toBe(401);
      expect(response.body.code).toBe('not_authenticated');
    });
  });

  describe('reading', () => {
    let dave: RegisteredUser;
    let erin: RegisteredUser;
    beforeAll(async () => {
      [dave, erin] = await Promise.all([registerUser(app.url), registerUser(app.url)]);
    });

    it('pages a conversation newest first with a cursor that stays right while messages arrive', async () => {
      const ids: number[] = [];
      for (let i = 0; i < 12; i++) {
        const from = i % 2 === 0 ? dave : erin;
        ids.push((await send(from, { message: `m${i}`, receiver: from === dave ? erin.username : dave.username })).body.id);
      }
      const first = await get(dave, `/accounts/messages/?with=${erin.username}&limit=5`);
      expect(first.body.results.map((m: { id: number }) => m.id)).toEqual(ids.slice(7).reverse());
      expect(first.body.next).toEqual(expect.any(String));

      // New messages land while the client pages back through older ones.
      const arriving = Promise.all(Array.from({ length: 10 }, (_, i) => send(erin, { message: `new${i}`, receiver: dave.username })));
      const seen: number[] = first.body.results.map((m: { id: number }) => m.id);
      let next: string | null = first.body.next;
      while (next) {
        const page = await get(dave, `/accounts/messages/?with=${erin.username}&limit=5&before=${next}`);
        expect(page.status).toBe(200);
        seen.push(...page.body.results.map((m: { id: number }) => m.id));
        next = page.body.next;
      }
      await arriving;
      expect(seen).toEqual([...ids].reverse());
    });

    it('refuses a cursor it did not make', async () => {
      const response = await get(dave, `/accounts/messages/?with=${erin.username}&before=not-a-cursor`);
      expect(response.status).toBe(400);
      expect(response.body).toMatchObject({ code: 'validation_error', fields: { before: ['Invalid cursor.'] } });
    });

    it('catches up with everything sent or received after an id, oldest first, following next', async () => {
      const start = (await send(dave, { message: 'mark', receiver: alice.username })).body.id as number;
      const expected = [start];
      for (let i = 0; i < 5; i++) {
        expected.push((await send(i % 2 ? dave : erin, { message: `c${i}`, receiver: i % 2 ? erin.username : dave.username })).body.id);
      }
      // Someone else's message is not part of dave's catch-up.
      await send(alice, { message: 'not for dave', receiver: bob.username });

      const seen: number[] = [];
      let after = String(start - 1);
      for (let pages = 0; after; pages++) {
        expect(pages).toBeLessThan(10);
        const page = await get(dave, `/accounts/messages/?after=${after}&limit=2`);
        seen.push(...page.body.results.map((m: { id: number }) => m.id));
        after = page.body.next;
      }
      expect(seen).toEqual(expected);
    });

    it('needs with or after', async () => {
      const response = await get(dave, '/accounts/messages/');
      expect(response.status).toBe(400);
      expect(response.body.code).toBe('validation_error');
      expect((await get(dave, `/accounts/messages/?with=${erin.username}&limit=500`)).status).toBe(400);
    });

    it('shows a user only the conversations they are in', async () => {
      const history = await get(carol, `/accounts/messages/?with=${dave.username}`);
      expect(history.body).toEqual({ results: [], next: null });
      const others = await get(carol, `/accounts/messages/?with=${erin.username}`);
      expect(others.body.results).toEqual([]);
    });
  });

  describe('conversations and read markers', () => {
    let frank: RegisteredUser;
    let gina: RegisteredUser;
    let hugo: RegisteredUser;
    beforeAll(async () => {
      [frank, gina, hugo] = await Promise.all([registerUser(app.url), registerUser(app.url), registerUser(app.url)]);
    });

    it('lists one row per partner, most recent first, with the last message and the unread count', async () => {
      await send(gina, { message: 'g1', receiver: frank.username });
      await send(gina, { message: 'g2', receiver: frank.username });
      await send(hugo, { message: 'h1', receiver: frank.username });
      const last = await send(frank, { message: 'to gina', receiver: gina.username });

      const list = await get(frank, '/accounts/conversations/');
      expect(list.status).toBe(200);
      expect(list.body.next).toBeNull();
      expect(list.body.results.map((row: { with: string; unread: number }) => [row.with, row.unread])).toEqual([
        [gina.username, 2],
        [hugo.username, 1],
      ]);
      expect(list.body.results[0].last_message).toMatchObject({ id: last.body.id, message: 'to gina', sender: frank.username });

      const page = await get(frank, '/accounts/conversations/?limit=1');
      expect(page.body.results).toHaveLength(1);
      const rest = await get(frank, `/accounts/conversations/?limit=1&before=${page.body.next}`);
      expect(rest.body.results.map((row: { with: string }) => row.with)).toEqual([hugo.username]);
      expect(rest.body.next).toBeNull();

      expect((await get(gina, '/accounts/conversations/')).body.results).toEqual([
        expect.objectContaining({ with: frank.username, unread: 1 }),
      ]);
    });

    it('marks a message and the earlier ones read, and tells the sender', async () => {
      const first = await send(hugo, { message: 'r1', receiver: gina.username });
      const second = await send(hugo, { message: 'r2', receiver: gina.username });
      const third = await send(hugo, { message: 'r3', receiver: gina.username });
      events.length = 0;

      const read = await call(app.url, 'POST', `/accounts/messages/${second.body.id}/read/`, undefined, { token: gina.token });

      expect(read.status).toBe(200);
      expect(read.body).toMatchObject({ id: second.body.id, message: 'r2', read_at: expect.any(String) });
      const history = await get(gina, `/accounts/messages/?with=${hugo.username}`);
      const readAt = Object.fromEntries(history.body.results.map((m: { id: number; read_at: string | null }) => [m.id, m.read_at]));
      expect(readAt[first.body.id]).toBe(read.body.read_at);
      expect(readAt[third.body.id]).toBeNull();
      const conversation = (await get(gina, '/accounts/conversations/')).body.results.find((row: { with: string }) => row.with === hugo.username);
      expect(conversation.unread).toBe(1);
      expect(events).toEqual([
        { userId: hugo.id, event: { type: 'read', seq: expect.any(Number), with: gina.username, up_to: second.body.id, read_at: read.body.read_at } },
      ]);

      const again = await call(app.url, 'POST', `/accounts/messages/${second.body.id}/read/`, undefined, { token: gina.token });
      expect(again.body.read_at).toBe(read.body.read_at);
    });

    it('lets only the receiver mark a message read', async () => {
      const sent = await send(hugo, { message: 'mine', receiver: frank.username });
      const bySender = await call(app.url, 'POST', `/accounts/messages/${sent.body.id}/read/`, undefined, { token: hugo.token });
      expect(bySender.status).toBe(403);
      expect(bySender.body.code).toBe('forbidden');

      const byStranger = await call(app.url, 'POST', `/accounts/messages/${sent.body.id}/read/`, undefined, { token: gina.token });
      expect(byStranger.status).toBe(404);
      expect(byStranger.body.code).toBe('not_found');
      expect((await call(app.url, 'POST', '/accounts/messages/999999/read/', undefined, { token: frank.token })).status).toBe(404);
    });
  });
});
