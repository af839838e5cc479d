// Edits and deletes between backends: they travel through the outbox behind the message they
// change (also across a peer being down and restarts), signed, once per id, and only from the
// peer and sender that delivered the message. A compat peer is sent nothing new.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { newKey } from '../helpers/app.js';
import { captureLog } from '../helpers/log.js';
import { startBackends, type Backend } from '../helpers/backends.js';
import { describeEachDatabase } from '../helpers/databases.js';
import { startWithOriginalPeer, type FakeOriginal } from '../helpers/fake-original.js';
import { call, registerUser, type RegisteredUser } from '../helpers/http.js';
import { openSocket, type TestSocket } from '../realtime/socket.js';
import { peerChange as change, eventually, peerRequest, postAsPeer } from './peer-requests.js';

interface Message {
  id: number;
  message: string;
  edited_at: string | null;
  deleted: boolean;
  sender: string;
}

async function history(backend: Backend, user: RegisteredUser, partner: string): Promise<Message[]> {
  const response = await call(backend.url, 'GET', `/accounts/messages/?with=${encodeURIComponent(partner)}&limit=200`, undefined, { token: user.token });
  expect(response.status).toBe(200);
  return response.body.results as Message[];
}

async function send(backend: Backend, from: RegisteredUser, receiver: string, message: string): Promise<{ id: number; status: string }> {
  const sent = await call(backend.url, 'POST', '/accounts/send-message/', { message, receiver }, { token: from.token });
  expect(sent.status).toBe(201);
  return sent.body as { id: number; status: string };
}

/** The id a message travelled under (its `ref` for changes). */
async function uuidOf(backend: Backend, id: number): Promise<string> {
  const db = backend.openDatabase();
  try {
    return (await db.db.selectFrom('messages').select('uuid').where('id', '=', id).executeTakeFirstOrThrow()).uuid;
  } finally {
    await db.close();
  }
}

describeEachDatabase('federated edits and deletes', (database) => {
  let a: Backend;
  let b: Backend;
  let c: Backend;
  let alice: RegisteredUser;
  let bob: RegisteredUser;
  const sockets: TestSocket[] = [];
  const keyOf = (from: Backend, to: string) => from.peers.find((peer) => peer.name === to)!.key;
  // Retries at the low end of their jitter keep the test short.
  const fastRetries = { outbox: { random: () => 0 } };

  beforeAll(async () => {
    [a, b, c] = await startBackends(database, ['a', 'b', 'c'], { start: false });
    await Promise.all([a.start({}, fastRetries), b.start(), c.start()]);
    alice = await registerUser(a.url, 'alice');
    bob = await registerUser(b.url, 'bob');
  });
  afterAll(async () => {
    await Promise.all(sockets.map((socket) => socket.close()));
    await Promise.all([a.destroy(), b.destroy(), c.destroy()]);
  });

  it('carries an edit and a delete to the second backend, where bob’s session is told', async () => {
    const sent = await send(a, alice, 'bob@b', 'helo bob');
    expect(sent.status).toBe('delivered');
    const bobs = await openSocket(b.url, bob.token);
    sockets.push(bobs);
    await bobs.roundTrip();

    expect((await call(a.url, 'PATCH', `/accounts/messages/${sent.id}/`, { message: 'hello bob' }, { token: alice.token })).status).toBe(200);
    const edited = await bobs.next((frame) => frame.type === 'message_updated');
    expect(edited).toMatchObject({ seq: expect.any(Number), message: { sender: 'alice@a', message: 'hello bob', edited_at: expect.any(String), deleted: false } });
    const onB = (await history(b, bob, 'alice@a')).find((m) => m.message === 'hello bob')!;
    expect(onB).toMatchObject({ edited_at: expect.any(String) });

    expect((await call(a.url, 'DELETE', `/accounts/messages/${sent.id}/`, undefined, { token: alice.token })).status).toBe(204);
    expect(await bobs.next((frame) => frame.type === 'message_updated')).toMatchObject({ message: { id: onB.id, message: '', deleted: true } });
    expect((await history(b, bob, 'alice@a')).find((m) => m.id === onB.id)).toMatchObject({ message: '', deleted: true });
    const db = b.openDatabase();
    try {
      expect(await db.db.selectFrom('messages').select(['body', 'deleted']).where('id', '=', onB.id).executeTakeFirstOrThrow()).toEqual({ body: '', deleted: 1 });
    } finally {
      await db.close();
    }
  });

  it('delivers changes made while the peer is down, behind their messages, across a restart of both sides', async () => {
    const first = await send(a, alice, 'bob@b', 'first, before');
    expect(first.status).toBe('delivered');
    await b.stop();

    const second = await send(a, alice, 'bob@b', 'second, v1');
    expect(second.status).toBe('queued');
    const third = await send(a, alice, 'bob@b', 'third, never seen');
    const edit = (id: number, message: string) => call(a.url, 'PATCH', `/accounts/messages/${id}/`, { message }, { token: alice.token });
    expect((await edit(first.id, 'first, after')).status).toBe(200);
    expect((await edit(second.id, 'second, v2')).status).toBe(200);
    expect((await edit(second.id, 'second, v3')).status).toBe(200);
    expect((await call(a.url, 'DELETE', `/accounts/messages/${third.id}/`, undefined, { token: alice.token })).status).toBe(204);

    // The outbox outlives the sender's restart; the receiver comes back afterwards.
    await a.stop();
    const log = captureLog('warn');
    await a.start({}, { ...fastRetries, logger: log.logger });
    await b.start();

    await eventually(async () => {
      const onB = await history(b, bob, 'alice@a');
      expect(onB.find((m) => m.message.startsWith('first'))).toMatchObject({ message: 'first, after', edited_at: expect.any(String) });
      expect(onB.find((m) => m.message.startsWith('second'))).toMatchObject({ message: 'second, v3', edited_at: expect.any(String) });
    }, 20_000);
    // A message deleted before it could go was never sent (nor its delete).
    expect((await history(b, bob, 'alice@a')).filter((m) => m.message.includes('third'))).toEqual([]);
    await eventually(async () => {
      const outbox = await call(a.url, 'GET', '/metrics');
      expect(outbox.body).toMatch(/realchat_outbox_depth(?:\{[^}]*\})? 0\b/);
    }, 20_000);
    // On a, every change shows too, and the message's own status is not changed by them.
    const onA = await history(a, alice, 'bob@b');
    expect(onA.find((m) => m.id === second.id)).toMatchObject({ message: 'second, v3', status: 'delivered' });
    // It never reached the receiver: it ended `failed`, not `queued` for ever.
    expect(onA.find((m) => m.id === third.id)).toMatchObject({ message: '', deleted: true, status: 'failed' });
    // Its delete was not sent either: b would have refused it (404, nothing to delete).
    expect(log.entries().filter((entry) => entry.msg === 'outbox: the peer refused an item')).toEqual([]);
  });

  it('applies a repeated change once, and answers as the original did', async () => {
    const sent = await send(a, alice, 'bob@b', 'say it once');
    const ref = await uuidOf(a, sent.id);
    const request = change(keyOf(b, 'a'), ['a', 'b'], { op: 'edit', ref, text: 'said once' });
    const firstAnswer = await postAsPeer(b.url, request);
    const again = await postAsPeer(b.url, request);
    expect(firstAnswer).toMatchObject({ status: 200, body: { message: 'said once' } });
    expect(again).toMatchObject({ status: 200, body: { message: 'said once' } });

    const onB = (await history(b, bob, 'alice@a')).find((m) => m.message === 'said once')!;
    const feed = await call(b.url, 'GET', '/accounts/events/?after=0', undefined, { token: bob.token });
    const updates = (feed.body.results as { type: string; message?: { id: number } }[]).filter((event) => event.type === 'message_updated' && event.message?.id === onB.id);
    expect(updates).toHaveLength(1);

    const deleted = await postAsPeer(b.url, change(keyOf(b, 'a'), ['a', 'b'], { op: 'delete', ref }));
    expect(deleted).toMatchObject({ status: 200, body: { message: '' } });
    // A change for a message already deleted is answered 200 and changes nothing.
    const late = await postAsPeer(b.url, change(keyOf(b, 'a'), ['a', 'b'], { op: 'edit', ref, text: 'back from the dead' }));
    expect(late).toMatchObject({ status: 200, body: { message: '' } });
    expect((await history(b, bob, 'alice@a')).find((m) => m.id === onB.id)).toMatchObject({ message: '', deleted: true });
  });

  it('answers a repeated change, applied once, with the text the message has now (no earlier text is kept)', async () => {
    const sent = await send(a, alice, 'bob@b', 'before any edit');
    const ref = await uuidOf(a, sent.id);
    const editId = randomUUID();
    const firstEdit = await postAsPeer(b.url, change(keyOf(b, 'a'), ['a', 'b'], { op: 'edit', ref, id: editId, text: 'first edit' }));
    expect(firstEdit).toMatchObject({ status: 200, body: { message: 'first edit' } });
    expect(await postAsPeer(b.url, change(keyOf(b, 'a'), ['a', 'b'], { op: 'edit', ref, text: 'second edit' }))).toMatchObject({ body: { message: 'second edit' } });

    // The same id with another, validly signed text is the same request: not applied.
    const repeated = await postAsPeer(b.url, change(keyOf(b, 'a'), ['a', 'b'], { op: 'edit', ref, id: editId, text: 'sent again, differently' }));
    expect(repeated).toMatchObject({ status: 200, body: { message: 'second edit' } });
    // So is a new message under that id.
    const asMessage = await postAsPeer(b.url, peerRequest({ key: keyOf(b, 'a'), receiver: 'bob', id: editId, text: 'a message under a used id' }));
    expect(asMessage).toMatchObject({ status: 200, body: { message: 'second edit' } });
    const onB = await history(b, bob, 'alice@a');
    expect(onB.filter((m) => m.message === 'a message under a used id')).toEqual([]);
    const message = onB.find((m) => m.message === 'second edit')!;
    // And the message's own delivery, repeated, is not stored again.
    const delivery = await postAsPeer(b.url, peerRequest({ key: keyOf(b, 'a'), receiver: 'bob', id: ref, text: 'the delivery, sent again' }));
    expect(delivery).toMatchObject({ status: 200, body: { message: 'second edit' } });
    expect((await history(b, bob, 'alice@a')).filter((m) => m.message === 'the delivery, sent again')).toEqual([]);

    expect(await postAsPeer(b.url, change(keyOf(b, 'a'), ['a', 'b'], { op: 'delete', ref }))).toMatchObject({ body: { message: '' } });
    expect(await postAsPeer(b.url, change(keyOf(b, 'a'), ['a', 'b'], { op: 'edit', ref, id: editId, text: 'first edit' }))).toMatchObject({ status: 200, body: { message: '' } });
    expect((await history(b, bob, 'alice@a')).find((m) => m.id === message.id)).toMatchObject({ message: '', deleted: true });
  });

  it('refuses a forged change: another peer, another sender or receiver (403 forbidden), an unknown ref (404)', async () => {
    const sent = await send(a, alice, 'bob@b', 'the real text');
    const ref = await uuidOf(a, sent.id);

    const fromC = await postAsPeer(b.url, change(keyOf(b, 'c'), ['c', 'b'], { op: 'edit', ref, text: 'forged by c' }));
    expect(fromC).toMatchObject({ status: 403, body: { code: 'forbidden' } });
    const otherSender = await postAsPeer(b.url, change(keyOf(b, 'a'), ['a', 'b'], { op: 'delete', ref, sender: 'mallory' }));
    expect(otherSender).toMatchObject({ status: 403, body: { code: 'forbidden' } });
    const otherReceiver = await postAsPeer(b.url, change(keyOf(b, 'a'), ['a', 'b'], { op: 'delete', ref, receiver: 'someone' }));
    expect(otherReceiver).toMatchObject({ status: 403, body: { code: 'forbidden' } });
    const unknown = await postAsPeer(b.url, change(keyOf(b, 'a'), ['a', 'b'], { op: 'edit', ref: randomUUID(), text: 'nothing to edit' }));
    expect(unknown).toMatchObject({ status: 404, body: { code: 'not_found' } });
    // Signed with c's key while claiming to be a: the signature does not hold.
    const impostor = await postAsPeer(b.url, change(keyOf(b, 'c'), ['a', 'b'], { op: 'delete', ref }));
    expect(impostor).toMatchObject({ status: 401, body: { code: 'invalid_signature' } });
    const incomplete = await postAsPeer(b.url, change(keyOf(b, 'a'), ['a', 'b'], { op: 'edit', ref }));
    expect(incomplete).toMatchObject({ status: 400, body: { code: 'validation_error', fields: { message: [expect.any(String)] } } });

    expect((await history(b, bob, 'alice@a')).find((m) => m.message === 'the real text')).toMatchObject({ edited_at: null, deleted: false });
  });
});

describeEachDatabase('changes and a compat peer (the original backend)', (database) => {
  const key = newKey();
  let original: FakeOriginal;
  let a: Backend;
  let alice: RegisteredUser;

  beforeAll(async () => {
    ({ original, a, alice } = await startWithOriginalPeer(database, key));
  });
  afterAll(async () => {
    await a.destroy();
    await original.close();
  });

  it('keeps edits and deletes local, and keeps delivering to it', async () => {
    const first = await send(a, alice, 'bob', 'first');
    expect(first.status).toBe('delivered');
    expect((await call(a.url, 'PATCH', `/accounts/messages/${first.id}/`, { message: 'first, edited' }, { token: alice.token })).status).toBe(200);
    expect((await call(a.url, 'DELETE', `/accounts/messages/${first.id}/`, undefined, { token: alice.token })).status).toBe(204);
    // Deliveries to one receiver keep their order: a change sent to it would have come before this.
    expect((await send(a, alice, 'bob', 'second')).status).toBe('delivered');
    expect(original.received.map((delivery) => [Object.keys(delivery.body).sort(), delivery.text])).toEqual([
      [['message', 'receiver', 'sender'], 'first'],
      [['message', 'receiver', 'sender'], 'second'],
    ]);
    expect((await history(a, alice, 'bob@orig'))[1]).toMatchObject({ id: first.id, message: '', deleted: true });
  });

  it('refuses a change attributed to it (it has no such operation, and cannot sign one)', async () => {
    const sent = await send(a, alice, 'bob', 'mine');
    const body = JSON.stringify({ op: 'delete', id: randomUUID(), ref: await uuidOf(a, sent.id), sender: 'bob', receiver: 'alice' });
    const answer = await call(a.url, 'POST', '/accounts/receive-message/', undefined, { raw: body, headers: { 'content-type': 'application/json' } });
    expect(answer).toMatchObject({ status: 403, body: { code: 'forbidden' } });
  });
});
