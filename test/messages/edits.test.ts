// Edits and deletes over HTTP and WebSocket: only the sender may change a message, a delete
// leaves a tombstone and erases the stored ciphertext, and every live session of both users is
// told with a `message_updated` event.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/database.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { describeEachDatabase } from '../helpers/databases.js';
import { call, registerUser, type RegisteredUser } from '../helpers/http.js';
import { openSocket, type TestSocket } from '../realtime/socket.js';

describeEachDatabase('edits and deletes', (database) => {
  let app: TestApp;
  let alice: RegisteredUser;
  let bob: RegisteredUser;
  let carol: RegisteredUser;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    app = await startTestApp({ database });
    [alice, bob, carol] = await Promise.all([registerUser(app.url), registerUser(app.url), registerUser(app.url)]);
  });
  afterAll(async () => {
    await Promise.all(sockets.map((socket) => socket.close()));
    await app.destroy();
  });

  const send = async (from: RegisteredUser, to: RegisteredUser, message: string): Promise<number> => {
    const sent = await call(app.url, 'POST', '/accounts/send-message/', { message, receiver: to.username }, { token: from.token });
    expect(sent.status).toBe(201);
    return sent.body.id as number;
  };
  const edit = (as: RegisteredUser, id: number, message: unknown) => call(app.url, 'PATCH', `/accounts/messages/${id}/`, { message }, { token: as.token });
  const remove = (as: RegisteredUser, id: number) => call(app.url, 'DELETE', `/accounts/messages/${id}/`, undefined, { token: as.token });
  const get = (as: RegisteredUser, path: string) => call(app.url, 'GET', path, undefined, { token: as.token });
  const inHistory = async (as: RegisteredUser, partner: RegisteredUser, id: number) =>
    (await get(as, `/accounts/messages/?with=${partner.username}`)).body.results.find((m: { id: number }) => m.id === id);

  async function connect(user: RegisteredUser): Promise<TestSocket> {
    const socket = await openSocket(app.url, user.token);
    sockets.push(socket);
    await socket.roundTrip();
    return socket;
  }

  describe('edit', () => {
    it('replaces the text for the sender, and both histories, catch-up and the conversations show it', async () => {
      const id = await send(alice, bob, 'helo');
      const edited = await edit(alice, id, '  hello  ');

      expect(edited.status).toBe(200);
      expect(edited.body).toMatchObject({ id, message: 'hello', edited_at: expect.any(String), deleted: false, sender: alice.username });
      for (const [me, partner] of [
        [alice, bob],
        [bob, alice],
      ] as const) {
        expect(await inHistory(me, partner, id)).toEqual(edited.body);
        const catchUp = await get(me, `/accounts/messages/?after=${id - 1}`);
        expect(catchUp.body.results.find((m: { id: number }) => m.id === id)).toEqual(edited.body);
        const conversation = (await get(me, '/accounts/conversations/')).body.results.find((row: { with: string }) => row.with === partner.username);
        expect(conversation.last_message).toEqual(edited.body);
      }
    });

    it('refuses the receiver with 403 forbidden and anyone else with 404 not_found, changing nothing', async () => {
      const id = await send(alice, bob, 'mine to change');

      const byReceiver = await edit(bob, id, 'hijacked');
      expect(byReceiver.status).toBe(403);
      expect(byReceiver.body.code).toBe('forbidden');
      const byStranger = await edit(carol, id, 'hijacked');
      expect(byStranger.status).toBe(404);
      expect(byStranger.body.code).toBe('not_found');
      expect((await edit(alice, 999_999_999, 'nobody')).status).toBe(404);
      expect(await inHistory(bob, alice, id)).toMatchObject({ message: 'mine to change', edited_at: null });
    });

    it('checks the new text as a send does', async () => {
      const id = await send(alice, bob, 'keep me');
      const blank = await edit(alice, id, '   ');
      expect(blank.status).toBe(400);
      expect(blank.body).toMatchObject({ code: 'validation_error', fields: { message: [expect.any(String)] } });
      expect((await edit(alice, id, 'x'.repeat(10_001))).status).toBe(400);
      const noBody = await call(app.url, 'PATCH', `/accounts/messages/${id}/`, {}, { token: alice.token });
      expect(noBody.status).toBe(400);
      expect((await call(app.url, 'PATCH', '/accounts/messages/abc/', { message: 'x' }, { token: alice.token })).status).toBe(400);
      // An id is its digits: not the same number written otherwise.
      for (const other of [`0x${id.toString(16)}`, `${id}e0`, `0${id}`, `${id}.0`]) {
        expect((await call(app.url, 'PATCH', `/accounts/messages/${other}/`, { message: 'x' }, { token: alice.token })).status).toBe(400);
      }
      expect((await call(app.url, 'PATCH', `/accounts/messages/${id}/`, { message: 'x' })).status).toBe(401);
      expect(await inHistory(alice, bob, id)).toMatchObject({ message: 'keep me', edited_at: null });
    });
  });

  describe('delete', () => {
    it('leaves a tombstone in both histories and erases the stored ciphertext', async () => {
      const id = await send(alice, bob, 'a secret to take back');
      const db = openDatabase(app.config.database);
      try {
        const before = await db.db.selectFrom('messages').select(['body', 'deleted']).where('id', '=', id).executeTakeFirstOrThrow();
        expect(before.body).not.toBe('');

        const removed = await remove(alice, id);
        expect(removed.status).toBe(204);
        expect(removed.body).toBeNull();

        const after = await db.db.selectFrom('messages').select(['body', 'deleted']).where('id', '=', id).executeTakeFirstOrThrow();
        expect(after).toEqual({ body: '', deleted: 1 });
        // No other table keeps a copy of it either (feed events point at the message).
        const events = await db.db.selectFrom('events').select(['data']).where('message_id', '=', id).execute();
        expect(events.every((event) => event.data === null)).toBe(true);
      } finally {
        await db.close();
      }
      for (const [me, partner] of [
        [alice, bob],
        [bob, alice],
      ] as const) {
        expect(await inHistory(me, partner, id)).toMatchObject({ id, message: '', deleted: true });
        const conversation = (await get(me, '/accounts/conversations/')).body.results.find((row: { with: string }) => row.with === partner.username);
        expect(conversation.last_message).toMatchObject({ id, message: '', deleted: true });
      }
    });

    it('answers 204 again for a second delete, and 409 deleted for an edit of a deleted message', async () => {
      const id = await send(alice, bob, 'gone soon');
      expect((await remove(alice, id)).status).toBe(204);
      expect((await remove(alice, id)).status).toBe(204);
      const late = await edit(alice, id, 'too late');
      expect(late.status).toBe(409);
      expect(late.body.code).toBe('deleted');
      expect(await inHistory(alice, bob, id)).toMatchObject({ message: '', deleted: true });
    });

    it('takes an unread message out of the receiver’s unread count, and a read one leaves it as it is', async () => {
      const [sender, receiver] = await Promise.all([registerUser(app.url), registerUser(app.url)]);
      const unread = async () => (await get(receiver, '/accounts/conversations/')).body.results.find((row: { with: string }) => row.with === sender.username).unread;
      const read = async (id: number) => expect((await call(app.url, 'POST', `/accounts/messages/${id}/read/`, undefined, { token: receiver.token })).status).toBe(200);
      const ids: number[] = [];
      for (const text of ['one', 'two', 'three', 'four']) ids.push(await send(sender, receiver, text));
      const [one, two, , four] = ids as [number, number, number, number];
      expect(await unread()).toBe(4);
      expect((await remove(sender, one)).status).toBe(204);
      expect(await unread()).toBe(3);
      // Reading past a deleted message counts only the others.
      await read(two);
      expect(await unread()).toBe(2);
      expect((await remove(sender, two)).status).toBe(204);
      expect(await unread()).toBe(2);
      expect((await remove(sender, four)).status).toBe(204);
      expect((await remove(sender, four)).status).toBe(204);
      expect(await unread()).toBe(1);
      // A tombstone can be read up to: the position moves past it.
      await read(four);
      expect(await unread()).toBe(0);
    });

    it('refuses the receiver with 403 forbidden and anyone else with 404 not_found', async () => {
      const id = await send(alice, bob, 'not yours');
      expect(await remove(bob, id)).toMatchObject({ status: 403, body: { code: 'forbidden' } });
      expect(await remove(carol, id)).toMatchObject({ status: 404, body: { code: 'not_found' } });
      expect(await inHistory(bob, alice, id)).toMatchObject({ message: 'not yours', deleted: false });
    });
  });

  it('tells every live session of both users with a message_updated event', async () => {
    const [alicePhone, aliceLaptop, bobs, carols] = await Promise.all([connect(alice), connect(alice), connect(bob), connect(carol)]);
    const id = await send(alice, bob, 'soon changed');

    const edited = await edit(alice, id, 'changed');
    for (const socket of [alicePhone, aliceLaptop, bobs]) {
      expect(await socket.next((frame) => frame.type === 'message_updated')).toEqual({ type: 'message_updated', seq: expect.any(Number), message: edited.body });
    }
    expect((await remove(alice, id)).status).toBe(204);
    for (const socket of [alicePhone, aliceLaptop, bobs]) {
      const event = await socket.next((frame) => frame.type === 'message_updated');
      expect(event).toMatchObject({ type: 'message_updated', message: { id, message: '', deleted: true, edited_at: edited.body.edited_at } });
    }
    // The second delete changed nothing, so it says nothing; carol is no party to it.
    expect((await remove(alice, id)).status).toBe(204);
    const marker = await send(alice, bob, 'marker');
    expect(await bobs.next((frame) => frame.type === 'message')).toMatchObject({ message: { id: marker } });
    expect(bobs.received.filter((frame) => frame.type === 'message_updated')).toEqual([]);
    await carols.roundTrip();
    expect(carols.received.filter((frame) => frame.type === 'message_updated')).toEqual([]);
  });
});
