// Read receipts and typing across backends, both ways: a read marker travels as a `read` item
// through the outbox, in order with the messages, and the sender's sessions on the other backend
// get the `read` event and see read_at; typing travels as a `typing` item and is never stored.
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { startBackends, type Backend } from '../../helpers/backends.js';
import { describeEachDatabase } from '../../helpers/databases.js';
import { call, registerUser, type RegisteredUser } from '../../helpers/http.js';
import { openSocket, type TestSocket } from '../../realtime/socket.js';
import { eventually } from '../peer-requests.js';

type Message = { id: number; message: string; read_at: string | null };

async function history(backend: Backend, user: RegisteredUser, partner: string): Promise<Message[]> {
  return (await call(backend.url, 'GET', `/accounts/messages/?with=${encodeURIComponent(partner)}&limit=200`, undefined, { token: user.token })).body.results.reverse();
}

async function send(backend: Backend, from: RegisteredUser, receiver: string, message: string): Promise<number> {
  const response = await call(backend.url, 'POST', '/accounts/send-message/', { message, receiver }, { token: from.token });
  expect(response.body.status).toBe('delivered');
  return response.body.id;
}

describeEachDatabase('read receipts and typing across backends', (database) => {
  let a: Backend;
  let b: Backend;
  let alice: RegisteredUser;
  let bob: RegisteredUser;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    [a, b] = (await startBackends(database, ['a', 'b'])) as [Backend, Backend];
    [alice, bob] = await Promise.all([registerUser(a.url, 'alice'), registerUser(b.url, 'bob')]);
  });
  afterEach(async () => {
    await Promise.all(sockets.splice(0).map((socket) => socket.close()));
  });
  afterAll(() => Promise.all([a.destroy(), b.destroy()]));

  async function connect(backend: Backend, user: RegisteredUser): Promise<TestSocket> {
    const socket = await openSocket(backend.url, user.token);
    sockets.push(socket);
    await socket.roundTrip();
    return socket;
  }

  /** The reader reads the sender's messages on their own backend; the sender's sessions hear of it. Addresses are as the other side writes them. */
  async function readAcross(sender: { backend: Backend; user: RegisteredUser; address: string }, reader: { backend: Backend; user: RegisteredUser; address: string }) {
    const texts = [`${sender.address} read me 1`, `${sender.address} read me 2`];
    const ids = [await send(sender.backend, sender.user, reader.address, texts[0]!), await send(sender.backend, sender.user, reader.address, texts[1]!)];
    const senderSocket = await connect(sender.backend, sender.user);
    const received = await eventually(async () => {
      const messages = (await history(reader.backend, reader.user, sender.address)).filter((m) => texts.includes(m.message));
      expect(messages).toHaveLength(2);
      return messages;
    });
    const read = await call(reader.backend.url, 'POST', `/accounts/messages/${received[1]!.id}/read/`, undefined, { token: reader.user.token });
    expect(read.status).toBe(200);

    const event = await senderSocket.next((frame) => frame.type === 'read', 10_000);
    expect(event).toEqual({ type: 'read', seq: expect.any(Number), with: reader.address, up_to: ids[1], read_at: read.body.read_at });
    const seen = (await history(sender.backend, sender.user, reader.address)).filter((m) => ids.includes(m.id));
    expect(seen.map((m) => m.read_at)).toEqual([read.body.read_at, read.body.read_at]);
  }

  it('tells bob on b, live and in his history, that alice on a read his messages', async () => {
    await readAcross({ backend: b, user: bob, address: 'bob@b' }, { backend: a, user: alice, address: 'alice@a' });
  });

  it('tells alice on a that bob on b read hers', async () => {
    await readAcross({ backend: a, user: alice, address: 'alice@a' }, { backend: b, user: bob, address: 'bob@b' });
  });

  it('carries a read marker in line with a reply to the same partner, and applies it once', async () => {
    const id = await send(b, bob, 'alice@a', 'read before a reply');
    const onA = (await history(a, alice, 'bob@b')).find((m) => m.message === 'read before a reply')!;
    // The reply and the read marker leave a in one line: the marker does not overtake the reply.
    const [reply, read] = await Promise.all([
      call(a.url, 'POST', '/accounts/send-message/', { message: 'a reply', receiver: 'bob@b' }, { token: alice.token }),
      call(a.url, 'POST', `/accounts/messages/${onA.id}/read/`, undefined, { token: alice.token }),
    ]);
    expect([reply.status, read.status]).toEqual([201, 200]);
    await eventually(async () => {
      expect((await history(b, bob, 'alice@a')).find((m) => m.id === id)!.read_at).toBe(read.body.read_at);
      expect((await history(b, bob, 'alice@a')).at(-1)!.message).toBe('a reply');
    });
    const db = b.openDatabase();
    try {
      const markers = await db.db.selectFrom('read_markers').selectAll().where('up_to', '=', id).execute();
      expect(markers).toHaveLength(1);
    } finally {
      await db.close();
    }
  });

  it('passes typing on both ways, to the partner only, storing nothing', async () => {
    const [alices, bobs] = [await connect(a, alice), await connect(b, bob)];
    alices.send({ type: 'typing', to: 'bob@b' });
    expect(await bobs.next((frame) => frame.type === 'typing', 10_000)).toEqual({ type: 'typing', from: 'alice@a' });
    bobs.send({ type: 'typing', to: 'alice@a' });
    expect(await alices.next((frame) => frame.type === 'typing', 10_000)).toEqual({ type: 'typing', from: 'bob@b' });

    // Someone without a conversation with alice hears nothing.
    const carol = await registerUser(b.url, 'carol');
    const carols = await connect(b, carol);
    alices.send({ type: 'typing', to: 'carol@b' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await carols.roundTrip();
    expect(carols.received.filter((frame) => frame.type === 'typing')).toEqual([]);
    const db = a.openDatabase();
    try {
      expect(await db.db.selectFrom('outbox').selectAll().execute()).toEqual([]);
    } finally {
      await db.close();
    }
  });

  it('passes typing across backends only once the conversation is established, as between local users', async () => {
    const dave = await registerUser(b.url, 'dave');
    const [alices, daves] = [await connect(a, alice), await connect(b, dave)];
    // One unasked message: dave has not answered nor read it, so alice's typing does not reach him.
    await send(a, alice, 'dave@b', 'hello, stranger');
    await daves.next((frame) => frame.type === 'message', 10_000);
    alices.send({ type: 'typing', to: 'dave@b' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await daves.roundTrip();
    expect(daves.received.filter((frame) => frame.type === 'typing')).toEqual([]);
    // dave answers: now both have written. (Past the 2 s window the dropped indicator took.)
    await send(b, dave, 'alice@a', 'hello, alice');
    await alices.next((frame) => frame.type === 'message', 10_000);
    await new Promise((resolve) => setTimeout(resolve, 2100));
    alices.send({ type: 'typing', to: 'dave@b' });
    expect(await daves.next((frame) => frame.type === 'typing', 10_000)).toEqual({ type: 'typing', from: 'alice@a' });
  });
});
