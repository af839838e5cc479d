// The sealed form: POST /accounts/messages/ with a body sealed under ENCRYPTION_KEY (the
// original's EncryptionMiddleware), opened before any route code; answers in plain JSON (sealed
// answers made the server an encryption oracle under the key, and are withdrawn);
// and a peer's receive-message sealed under the pair's key.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { encodeWireMessage, fernetEncrypt } from '../../src/crypto/fernet.js';
import { newKey } from '../helpers/app.js';
import { startBackends, type Backend } from '../helpers/backends.js';
import { describeEachDatabase } from '../helpers/databases.js';
import { call, registerUser, type RegisteredUser } from '../helpers/http.js';
import { postAsPeer, signedHeaders } from '../federation/peer-requests.js';

const SEALED = 'application/vnd.realchat.sealed';

function seal(key: string, value: unknown, now = Math.floor(Date.now() / 1000)): string {
  return encodeWireMessage(fernetEncrypt(key, JSON.stringify(value), { now }));
}

describeEachDatabase('the sealed form', (database) => {
  let a: Backend;
  let b: Backend;
  let alice: RegisteredUser;
  let bob: RegisteredUser;
  let key: string;

  beforeAll(async () => {
    [a, b] = await startBackends(database, ['a', 'b']);
    key = b.env.ENCRYPTION_KEY!;
    [alice, bob] = await Promise.all([registerUser(b.url, 'alice'), registerUser(b.url, 'bob')]);
  });
  afterAll(() => Promise.all([a.destroy(), b.destroy()]));

  const post = (body: string, headers: Record<string, string> = {}, token = alice.token) =>
    call(b.url, 'POST', '/accounts/messages/', undefined, { raw: body, headers, token });
  const texts = async () =>
    (await call(b.url, 'GET', '/accounts/messages/?with=alice', undefined, { token: bob.token })).body.results.map((m: { message: string }) => m.message);

  it('opens a sealed body of {"content", "receiver": <user id>} whatever its content type says', async () => {
    const contentTypes: Record<string, string>[] = [{}, { 'content-type': 'application/json' }, { 'content-type': SEALED }, { 'content-type': 'text/plain' }];
    for (const [index, headers] of contentTypes.entries()) {
      const response = await post(seal(key, { content: `sealed ${index}`, receiver: bob.id }), headers);
      expect(response.status).toBe(201);
      expect(response.body).toMatchObject({ message: 'Message sent successfully', status: 'delivered' });
    }
    const byName = await post(seal(key, { content: 'by name', receiver: 'bob' }), { 'content-type': SEALED });
    expect(byName.status).toBe(201);
    expect((await texts()).slice(0, 5).reverse()).toEqual(['sealed 0', 'sealed 1', 'sealed 2', 'sealed 3', 'by name']);
  });

  it('answers plain JSON, never a Fernet token, even to a client that accepts the sealed type', async () => {
    const response = await call(b.url, 'POST', '/accounts/messages/', undefined, {
      raw: seal(key, { content: 'answer in the clear', receiver: bob.id }),
      headers: { 'content-type': SEALED, accept: SEALED },
      token: alice.token,
    });
    expect(response.status).toBe(201);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(response.body).toEqual({ message: 'Message sent successfully', id: expect.any(Number), status: 'delivered', timestamp: expect.any(String) });
  });

  it('refuses a body that does not open with 400 invalid_token_payload, before any route code', async () => {
    const count = (await texts()).length;
    const refusals = [
      await post('not a token at all', { 'content-type': SEALED }),
      await post(seal(newKey(), { content: 'other key', receiver: bob.id }), { 'content-type': SEALED }),
      await post(seal(key, { content: 'too old', receiver: bob.id }, Math.floor(Date.now() / 1000) - 301)),
      await post(encodeWireMessage(fernetEncrypt(key, 'not json')), { 'content-type': SEALED }),
      // Bytes that are not UTF-8 would be stored altered.
      await post(encodeWireMessage(fernetEncrypt(key, Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]))), { 'content-type': SEALED }),
      // No token either: the body is opened before authentication would run.
      await post('garbage', { 'content-type': SEALED }, ''),
    ];
    for (const response of refusals) {
      expect(response.status).toBe(400);
      expect(response.body.code).toBe('invalid_token_payload');
    }
    expect((await texts()).length).toBe(count);
  });

  it('still answers broken JSON as malformed_json and an unknown receiver id as unknown_receiver', async () => {
    const broken = await post('{"message": ', { 'content-type': 'application/json' });
    expect(broken.status).toBe(400);
    expect(broken.body.code).toBe('malformed_json');
    const unknown = await post(seal(key, { content: 'to whom?', receiver: 999_999 }));
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('unknown_receiver');
  });

  it("lets a peer deliver a sealed receive-message, signed over the sealed bytes, under the pair's key", async () => {
    const pairKey = b.peers.find((peer) => peer.name === 'a')!.key;
    const inner = { message: encodeWireMessage(fernetEncrypt(pairKey, 'sealed twice')), sender: 'carol', receiver: 'bob', id: randomUUID() };
    const body = seal(pairKey, inner);
    const response = await postAsPeer(b.url, { body, headers: { 'content-type': SEALED, ...signedHeaders(pairKey, body) } });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ message: 'sealed twice' });

    const underOurKey = seal(key, inner);
    const refused = await postAsPeer(b.url, { body: underOurKey, headers: { 'content-type': SEALED, ...signedHeaders(pairKey, underOurKey) } });
    expect(refused.status).toBe(400);
    expect(refused.body.code).toBe('invalid_token_payload');
  });

  it("takes a sealed receive-message's text under `content`, the original's name for it, as on /accounts/messages/", async () => {
    const pairKey = b.peers.find((peer) => peer.name === 'a')!.key;
    const body = seal(pairKey, { content: encodeWireMessage(fernetEncrypt(pairKey, 'sealed as content')), sender: 'carol', receiver: 'bob', id: randomUUID() });
    const response = await postAsPeer(b.url, { body, headers: { 'content-type': SEALED, ...signedHeaders(pairKey, body) } });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ message: 'sealed as content' });
  });
});
