// The receiver's checks of federation.md, in order, each with its code, and none of them
// storing anything: unknown origin, bad or missing signature, tampered, wrong-key or stale
// token, replay, unknown receiver, a sender name that could read as another address, our own
// name as the origin.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { decodeBase64Url, encodeBase64Url } from '../../src/crypto/keys.js';
import type { Database } from '../../src/db/database.js';
import { newKey } from '../helpers/app.js';
import { startBackends, type Backend } from '../helpers/backends.js';
import { describeEachDatabase } from '../helpers/databases.js';
import { call, registerUser, type RegisteredUser } from '../helpers/http.js';
import { peerRequest, postAsPeer, signedHeaders, type PeerRequestOptions } from './peer-requests.js';

describeEachDatabase('inbound federation refusals', (database) => {
  let b: Backend;
  let bob: RegisteredUser;
  let key: string;
  let db: Database;

  beforeAll(async () => {
    [, b] = await startBackends(database, ['a', 'b'], { start: false });
    await b.start();
    key = b.peers.find((peer) => peer.name === 'a')!.key;
    bob = await registerUser(b.url, 'bob');
    db = b.openDatabase();
  });
  afterAll(async () => {
    await db.close();
    await b.destroy();
  });

  const stored = async () => Number((await db.db.selectFrom('messages').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
  const request = (options: Partial<PeerRequestOptions> = {}) => peerRequest({ key, receiver: 'bob', ...options });

  async function expectRefusal(options: Partial<PeerRequestOptions>, status: number, code: string) {
    const before = await stored();
    const response = await postAsPeer(b.url, request(options));
    expect(response.status).toBe(status);
    expect(response.body.code).toBe(code);
    expect(await stored()).toBe(before);
  }

  it('stores a signed message from a known peer and answers its text', async () => {
    const response = await postAsPeer(b.url, request({ text: 'signed and sealed' }));
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ message: 'signed and sealed' });
    const history = await call(b.url, 'GET', '/accounts/messages/?with=alice@a', undefined, { token: bob.token });
    expect(history.body.results[0]).toMatchObject({ sender: 'alice@a', receiver: 'bob', message: 'signed and sealed' });
  });

  it('refuses an unknown origin, and a request without one when no compat peer exists, with 403 unknown_peer', async () => {
    await expectRefusal({ origin: 'mallory' }, 403, 'unknown_peer');
    await expectRefusal({ origin: null }, 403, 'unknown_peer');
  });

  it('refuses a missing, wrong, stale or mismatched signature with 401 invalid_signature', async () => {
    await expectRefusal({ signWith: null }, 401, 'invalid_signature');
    await expectRefusal({ signWith: newKey() }, 401, 'invalid_signature');
    await expectRefusal({ signatureTime: Math.floor(Date.now() / 1000) - 400 }, 401, 'invalid_signature');
    await expectRefusal({ signatureTime: Math.floor(Date.now() / 1000) + 120 }, 401, 'invalid_signature');

    const signed = request();
    const before = await stored();
    const swapped = await postAsPeer(b.url, { headers: signed.headers, body: signed.body.replace('"bob"', '"bob" ') });
    expect(swapped.status).toBe(401);
    expect(swapped.body.code).toBe('invalid_signature');
    expect(await stored()).toBe(before);
  });

  it('refuses a tampered, wrong-key or stale token with 400 invalid_token_payload', async () => {
    const flip = (token: string) => {
      const bytes = decodeBase64Url(token)!;
      bytes[bytes.length - 40]! ^= 0x01;
      return encodeBase64Url(bytes);
    };
    await expectRefusal({ tamper: flip }, 400, 'invalid_token_payload');
    // Signed by the right peer, but the token is under another key.
    await expectRefusal({ token: peerRequestToken(newKey()), signWith: key }, 400, 'invalid_token_payload');
    await expectRefusal({ tokenTime: Math.floor(Date.now() / 1000) - 301 }, 400, 'invalid_token_payload');
    await expectRefusal({ tokenTime: Math.floor(Date.now() / 1000) + 120 }, 400, 'invalid_token_payload');
  });

  it('stores and answers the text exactly as the peer sent it, spaces and line breaks included', async () => {
    const text = '  indented, with a line break\n';
    const response = await postAsPeer(b.url, request({ text }));
    expect(response).toMatchObject({ status: 200, body: { message: text } });
    const history = await call(b.url, 'GET', '/accounts/messages/?with=alice@a', undefined, { token: bob.token });
    expect(history.body.results[0]).toMatchObject({ sender: 'alice@a', message: text });
    await expectRefusal({ text: ' \n ' }, 400, 'validation_error');
  });

  it('answers a replay with the first answer and stores the message once', async () => {
    const id = randomUUID();
    const first = request({ id, text: 'only once' });
    expect((await postAsPeer(b.url, first)).body).toEqual({ message: 'only once' });
    const after = await stored();

    const again = await postAsPeer(b.url, first);
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ message: 'only once' });
    // The same id with another (fresh, validly signed) text is still the same request.
    const changed = await postAsPeer(b.url, request({ id, text: 'a second text' }));
    expect(changed.body).toEqual({ message: 'only once' });
    const concurrent = await Promise.all(Array.from({ length: 5 }, () => postAsPeer(b.url, request({ id: randomUUID(), text: 'burst' }))).map(async (p) => (await p).status));
    expect(concurrent).toEqual([200, 200, 200, 200, 200]);
    const burstId = randomUUID();
    const burst = request({ id: burstId, text: 'racing' });
    expect((await Promise.all(Array.from({ length: 5 }, () => postAsPeer(b.url, burst)))).map((r) => r.body.message)).toEqual(Array(5).fill('racing'));
    expect(await stored()).toBe(after + 5 + 1);
  });

  it('answers 404 unknown_receiver for a receiver it does not have, storing nothing', async () => {
    await expectRefusal({ receiver: 'nobody' }, 404, 'unknown_receiver');
  });

  it('refuses a sealed text with a null or another control character, as a client’s, with 400 validation_error', async () => {
    await expectRefusal({ text: 'a \u0000 null' }, 400, 'validation_error');
    await expectRefusal({ text: 'an \u001b escape' }, 400, 'validation_error');
  });

  it('answers validation errors for a body missing fields, once the peer is verified', async () => {
    const before = await stored();
    const body = JSON.stringify({ message: 'x', receiver: 'bob' });
    const headers = { 'content-type': 'application/json', ...signedHeaders(key, body) };
    const response = await postAsPeer(b.url, { headers, body });
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ code: 'validation_error', fields: { sender: ['This field is required.'] } });
    expect(await stored()).toBe(before);
  });

  it.each(['x@y', 'x@b', 'a@', 'with space', 'semi;colon', 'slash/name'])('refuses an inbound sender %j with 400 and the field sender, storing nothing', async (sender) => {
    const before = await stored();
    const response = await postAsPeer(b.url, request({ sender }));
    expect(response.status).toBe(400);
    expect(response.body.fields).toEqual({ sender: [expect.stringContaining('@')] });
    expect(await stored()).toBe(before);
  });

  it('refuses a request whose X-RealChat-Origin is our own name with 403 unknown_peer', async () => {
    await expectRefusal({ origin: 'b', destination: 'b' }, 403, 'unknown_peer');
  });

  it('stores a message for bob@<our own SERVER_NAME> for the local bob, and sends one there locally', async () => {
    const response = await postAsPeer(b.url, request({ receiver: 'bob@B', text: 'to our own name' }));
    expect(response).toMatchObject({ status: 200, body: { message: 'to our own name' } });
    const fromPeer = await call(b.url, 'GET', '/accounts/messages/?with=alice@a', undefined, { token: bob.token });
    expect(fromPeer.body.results[0]).toMatchObject({ sender: 'alice@a', receiver: 'bob', message: 'to our own name' });

    const carol = await registerUser(b.url, 'carol');
    const sent = await call(b.url, 'POST', '/accounts/send-message/', { message: 'local after all', receiver: 'bob@b' }, { token: carol.token });
    expect(sent.status).toBe(201);
    const local = await call(b.url, 'GET', '/accounts/messages/?with=carol', undefined, { token: bob.token });
    expect(local.body.results[0]).toMatchObject({ sender: 'carol', receiver: 'bob', message: 'local after all' });
  });
});

function peerRequestToken(otherKey: string): string {
  const { body } = peerRequest({ key: otherKey, receiver: 'bob', signWith: null });
  const wire = (JSON.parse(body) as { message: string }).message;
  return decodeBase64Url(wire)!.toString('latin1');
}

describeEachDatabase('a peer key in rotation', (database) => {
  const previous = newKey();
  const current = newKey();
  let b: Backend;

  beforeAll(async () => {
    [, b] = await startBackends(database, ['a', 'b'], {
      start: false,
      peers: (name, peers) => (name === 'b' ? peers.map((peer) => ({ ...peer, key: current, previous_keys: [previous] })) : peers),
    });
    await b.start();
    await registerUser(b.url, 'bob');
  });
  afterAll(() => b.destroy());

  it('accepts requests signed and encrypted under the current or a previous key of the peer', async () => {
    for (const [key, text] of [
      [current, 'under the current key'],
      [previous, 'under the previous key'],
    ] as const) {
      const response = await postAsPeer(b.url, peerRequest({ key, receiver: 'bob', text }));
      expect(response.status).toBe(200);
      expect(response.body).toEqual({ message: text });
    }
    const other = await postAsPeer(b.url, peerRequest({ key: newKey(), receiver: 'bob' }));
    expect(other.status).toBe(401);
  });
});
