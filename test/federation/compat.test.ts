// Compat peers, which speak the original backend's wire form: what we send to the original
// (its JSON form and token, no signature), what it sends us (a form body, a double-encoded or
// bare token made by Python, no origin, no signature), and two RealChat backends in compat mode.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeWireMessage, encodeWireMessage, fernetDecrypt } from '../../src/crypto/fernet.js';
import { newKey } from '../helpers/app.js';
import { startBackends, type Backend } from '../helpers/backends.js';
import { describeEachDatabase } from '../helpers/databases.js';
import { startWithOriginalPeer, type FakeOriginal } from '../helpers/fake-original.js';
import { call, registerUser, type RegisteredUser } from '../helpers/http.js';
import { RECEIVE_PATH } from './peer-requests.js';

interface PythonVector {
  key: string;
  now: number;
  token: string;
  text: string;
}
const python = (JSON.parse(readFileSync(new URL('../fixtures/fernet.json', import.meta.url), 'utf8')) as { valid: PythonVector[] }).valid.filter(
  (vector) => vector.text.trim() !== '' && vector.text.length < 1000,
);

function history(backend: Backend, user: RegisteredUser, partner: string) {
  return call(backend.url, 'GET', `/accounts/messages/?with=${partner}&limit=200`, undefined, { token: user.token });
}

describeEachDatabase('sending to the original backend (PEER_NAME, PEER_COMPAT)', (database) => {
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

  it("sends the original's form: JSON message, sender, receiver, its token, a double-encoded Fernet token", async () => {
    const sent = await call(a.url, 'POST', '/accounts/send-message/', { message: 'Hello, World!', receiver: 'bob' }, { token: alice.token });

    expect(sent.body.status).toBe('delivered');
    expect(original.received).toHaveLength(1);
    const [delivery] = original.received;
    expect(delivery!.authorization).toBe('Token drf-token-of-our-account');
    expect(delivery!.contentType).toBe('application/json');
    expect(Object.keys(delivery!.body).sort()).toEqual(['message', 'receiver', 'sender']);
    expect(delivery!.body).toMatchObject({ sender: 'alice', receiver: 'bob' });
    expect(delivery!.headers['x-realchat-signature']).toBeUndefined();
    // base64.urlsafe_b64encode of the token: decodes to a token that starts gAAAAA, with padding.
    expect(delivery!.body.message).toMatch(/^Z0FBQUFB[A-Za-z0-9_-]+=*$/);
    expect(delivery!.body.message!.length % 4).toBe(0);
    expect(fernetDecrypt(key, decodeWireMessage(delivery!.body.message!), { now: Math.floor(Date.now() / 1000), ttlSeconds: 60 }).toString()).toBe('Hello, World!');
    expect((await history(a, alice, 'bob@orig')).body.results[0]).toMatchObject({ receiver: 'bob@orig', status: 'delivered' });
  });

  it("records its 400 {\"error\": \"Receiver does not exist\"} as a failure with the code unknown_receiver", async () => {
    const sent = await call(a.url, 'POST', '/accounts/send-message/', { message: 'hello?', receiver: 'nobody' }, { token: alice.token });
    expect(sent.body.status).toBe('failed');
    const db = a.openDatabase();
    try {
      const row = await db.db.selectFrom('message_deliveries').select('failure_code').where('message_id', '=', sent.body.id).executeTakeFirstOrThrow();
      expect(row.failure_code).toBe('unknown_receiver');
    } finally {
      await db.close();
    }
  });
});

describeEachDatabase('receiving from the original backend', (database) => {
  // The vectors were made by Python at their own `now`; this backend lives at that moment too.
  const vector = python[0]!;
  let a: Backend;
  let bob: RegisteredUser;

  beforeAll(async () => {
    [a] = await startBackends(database, ['a'], {
      env: { PEERS: '', PEER_NAME: 'orig', PEER_URL: 'http://127.0.0.1:9', PEER_COMPAT: 'true', ENCRYPTION_KEY: vector.key },
      start: false,
    });
    await a.start({}, { clock: () => vector.now * 1000 });
    bob = await registerUser(a.url, 'bob');
  });
  afterAll(() => a.destroy());

  function postForm(fields: Record<string, string>) {
    return call(a.url, 'POST', RECEIVE_PATH, undefined, {
      raw: new URLSearchParams(fields).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Token some-user-token-of-theirs' },
    });
  }

  it('accepts a form body with a token made by Python, double-encoded, without an origin or a signature', async () => {
    const response = await postForm({ message: encodeWireMessage(vector.token), sender: 'alice', receiver: 'bob' });

    expect(response.status).toBe(200);
    expect(response.body).toEqual({ message: vector.text });
    const stored = (await history(a, bob, 'alice@orig')).body.results;
    expect(stored).toEqual([expect.objectContaining({ sender: 'alice@orig', receiver: 'bob', message: vector.text })]);
  });

  it('takes the same token unpadded or bare as the same request: answered again, stored once', async () => {
    const unpadded = encodeWireMessage(vector.token).replace(/=+$/, '');
    expect((await postForm({ message: unpadded, sender: 'alice', receiver: 'bob' })).body).toEqual({ message: vector.text });
    const bare = await call(a.url, 'POST', RECEIVE_PATH, { message: vector.token, sender: 'alice', receiver: 'bob' });
    expect(bare.body).toEqual({ message: vector.text });
    expect((await history(a, bob, 'alice@orig')).body.results).toHaveLength(1);
  });

  it('refuses a token under another key, and one whose signature header is present but wrong', async () => {
    const other = python.find((v) => v.key !== vector.key)!;
    const wrongKey = await postForm({ message: encodeWireMessage(other.token), sender: 'alice', receiver: 'bob' });
    expect(wrongKey.status).toBe(400);
    expect(wrongKey.body.code).toBe('invalid_token_payload');

    const badSignature = await call(a.url, 'POST', RECEIVE_PATH, undefined, {
      raw: new URLSearchParams({ message: encodeWireMessage(vector.token), sender: 'alice', receiver: 'bob' }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-realchat-signature': `t=${vector.now},v1=${'0'.repeat(64)}` },
    });
    expect(badSignature.status).toBe(401);
    expect(badSignature.body.code).toBe('invalid_signature');
  });
});

describe('two RealChat backends configured as compat peers of each other', () => {
  let backends: Backend[];
  afterAll(() => Promise.all(backends.map((backend) => backend.destroy())));

  it('exchange messages in the wire form both ways', async () => {
    backends = await startBackends('sqlite', ['a', 'b'], {
      peers: (_name, peers) => peers.map((peer) => ({ ...peer, compat: true, token: 'ignored-by-realchat' })),
    });
    const [a, b] = backends as [Backend, Backend];
    const [alice, bob] = await Promise.all([registerUser(a.url, 'alice'), registerUser(b.url, 'bob')]);

    expect((await call(a.url, 'POST', '/accounts/send-message/', { message: 'to b', receiver: 'bob@b' }, { token: alice.token })).body.status).toBe('delivered');
    expect((await call(b.url, 'POST', '/accounts/send-message/', { message: 'to a', receiver: 'alice' }, { token: bob.token })).body.status).toBe('delivered');

    expect((await history(b, bob, 'alice@a')).body.results.map((m: { message: string }) => m.message)).toEqual(['to a', 'to b']);
    expect((await history(a, alice, 'bob@b')).body.results.map((m: { sender: string }) => m.sender)).toEqual(['bob@b', 'alice']);
  });
});
