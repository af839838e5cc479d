// Compat peers (the original backend) after hardening: an unsigned request is deduped by its
// Fernet token whatever `id` comes with it, may be limited to the peer's source addresses
// (`allow_from`), and the peer's user names are kept exactly as it sends them.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeWireMessage, fernetEncrypt } from '../../src/crypto/fernet.js';
import type { Database } from '../../src/db/database.js';
import { newKey } from '../helpers/app.js';
import { startBackends, type Backend } from '../helpers/backends.js';
import { describeEachDatabase, type DatabaseKind } from '../helpers/databases.js';
import { startFakeOriginal, type FakeOriginal } from '../helpers/fake-original.js';
import { call, registerUser, type RegisteredUser } from '../helpers/http.js';
import { RECEIVE_PATH } from './peer-requests.js';

/** Backend `a` whose one peer is an original backend `orig` (PEERS, compat), with extra peer fields and variables. */
async function startWithCompatPeer(database: DatabaseKind, key: string, url: string, peer: Record<string, unknown> = {}, env: Record<string, string> = {}): Promise<Backend> {
  const [a] = await startBackends(database, ['a'], {
    env: { PEERS: JSON.stringify([{ name: 'orig', url, key, compat: true, token: 'drf-token-of-our-account', ...peer }]), ...env },
  });
  return a!;
}

/** What the original sends: JSON with a fresh double-encoded token, no origin, no signature. */
function fromOriginal(a: Backend, key: string, fields: { sender: string; receiver: string; text?: string; message?: string; id?: string }, headers: Record<string, string> = {}) {
  const message = fields.message ?? encodeWireMessage(fernetEncrypt(key, fields.text ?? 'hi', { now: Math.floor(Date.now() / 1000) }));
  const body = { message, sender: fields.sender, receiver: fields.receiver, ...(fields.id ? { id: fields.id } : {}) };
  return call(a.url, 'POST', RECEIVE_PATH, body, { headers: { authorization: 'Token some-user-token-of-theirs', ...headers } });
}

const count = async (db: Database) => Number((await db.db.selectFrom('messages').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

describeEachDatabase('a compat peer replaying a request', (database) => {
  const key = newKey();
  let a: Backend;
  let db: Database;

  beforeAll(async () => {
    a = await startWithCompatPeer(database, key, 'http://127.0.0.1:9');
    await registerUser(a.url, 'bob');
    db = a.openDatabase();
  });
  afterAll(async () => {
    await db.close();
    await a.destroy();
  });

  it('stores a request replayed with a different id once, and answers it with the first answer', async () => {
    const message = encodeWireMessage(fernetEncrypt(key, 'only once', { now: Math.floor(Date.now() / 1000) }));
    const before = await count(db);
    const first = await fromOriginal(a, key, { sender: 'alice', receiver: 'bob', message, id: randomUUID() });
    const replayed = await fromOriginal(a, key, { sender: 'alice', receiver: 'bob', message, id: randomUUID() });
    const without = await fromOriginal(a, key, { sender: 'alice', receiver: 'bob', message });
    expect([first, replayed, without].map((response) => [response.status, response.body])).toEqual([
      [200, { message: 'only once' }],
      [200, { message: 'only once' }],
      [200, { message: 'only once' }],
    ]);
    expect(await count(db)).toBe(before + 1);
  });

  it('knows a replayed token in any spelling: without its inner padding, or with other unused low bits', async () => {
    const token = fernetEncrypt(key, 'one spelling is enough', { now: Math.floor(Date.now() / 1000) });
    const bare = token.replace(/=+$/, '');
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    // The last character before '==' carries 4 unused low bits (one '=': 2); setting them spells the same bytes.
    const unusedBits = token.length - bare.length === 2 ? 0b1111 : 0b11;
    const lowBits = bare.slice(0, -1) + alphabet[alphabet.indexOf(bare.at(-1)!) | unusedBits]! + token.slice(bare.length);
    expect(new Set([token, bare, lowBits]).size).toBe(3);
    const before = await count(db);
    for (const spelling of [token, bare, lowBits]) {
      const response = await fromOriginal(a, key, { sender: 'alice', receiver: 'bob', message: encodeWireMessage(spelling) });
      expect([response.status, response.body]).toEqual([200, { message: 'one spelling is enough' }]);
    }
    expect(await count(db)).toBe(before + 1);
  });
});

describe('a compat peer limited to its addresses (allow_from)', () => {
  const key = newKey();
  const backends: Backend[] = [];
  afterAll(() => Promise.all(backends.map((backend) => backend.destroy())));

  async function start(allowFrom: string[], env: Record<string, string> = {}) {
    const a = await startWithCompatPeer('sqlite', key, 'http://127.0.0.1:9', { allow_from: allowFrom }, env);
    backends.push(a);
    await registerUser(a.url, 'bob');
    return a;
  }

  it('refuses an unsigned request from any other address with 403 unknown_peer, storing nothing', async () => {
    const a = await start(['10.9.9.9', '192.168.0.0/16']);
    const response = await fromOriginal(a, key, { sender: 'alice', receiver: 'bob' });
    expect(response.status).toBe(403);
    expect(response.body.code).toBe('unknown_peer');
    const db = a.openDatabase();
    try {
      expect(await count(db)).toBe(0);
    } finally {
      await db.close();
    }
  });

  it('accepts an unsigned request from a listed address or range', async () => {
    const a = await start(['10.9.9.9', '127.0.0.0/8']);
    expect(await fromOriginal(a, key, { sender: 'alice', receiver: 'bob', text: 'from the range' })).toMatchObject({ status: 200, body: { message: 'from the range' } });
  });

  it('takes the client address behind a trusted proxy from X-Forwarded-For (TRUST_PROXY), and only then', async () => {
    const proxied = await start(['10.9.9.9'], { TRUST_PROXY: '127.0.0.1' });
    expect(await fromOriginal(proxied, key, { sender: 'alice', receiver: 'bob', text: 'via the proxy' }, { 'x-forwarded-for': '10.9.9.9' })).toMatchObject({ status: 200 });
    const direct = await start(['10.9.9.9']);
    expect(await fromOriginal(direct, key, { sender: 'alice', receiver: 'bob' }, { 'x-forwarded-for': '10.9.9.9' })).toMatchObject({ status: 403, body: { code: 'unknown_peer' } });
  });
});

describeEachDatabase("a compat peer's user names", (database) => {
  const key = newKey();
  const names = ['zed', 'Zed', 'ｚed'];
  let original: FakeOriginal;
  let a: Backend;
  let bob: RegisteredUser;

  beforeAll(async () => {
    original = await startFakeOriginal({ key, token: 'drf-token-of-our-account', users: [...names, 'bob'] });
    a = await startWithCompatPeer(database, key, original.url);
    bob = await registerUser(a.url, 'bob');
  });
  afterAll(async () => {
    await a.destroy();
    await original.close();
  });

  it('keeps zed, Zed and ｚed apart: three conversations, and each reply goes to its own sender', async () => {
    for (const name of names) {
      expect(await fromOriginal(a, key, { sender: name, receiver: 'bob', text: `I am ${name}` })).toMatchObject({ status: 200 });
    }
    const conversations = await call(a.url, 'GET', '/accounts/conversations/', undefined, { token: bob.token });
    expect(conversations.body.results.map((c: { with: string }) => c.with).sort()).toEqual(names.map((name) => `${name}@orig`).sort());
    for (const name of names) {
      const history = await call(a.url, 'GET', `/accounts/messages/?with=${encodeURIComponent(`${name}@orig`)}`, undefined, { token: bob.token });
      expect(history.body.results.map((m: { sender: string; message: string }) => [m.sender, m.message])).toEqual([[`${name}@orig`, `I am ${name}`]]);
    }

    for (const name of names) {
      const sent = await call(a.url, 'POST', '/accounts/send-message/', { message: `hello ${name}`, receiver: `${name}@orig` }, { token: bob.token });
      expect(sent.body.status).toBe('delivered');
    }
    expect(original.received.map((delivery) => [delivery.body.receiver, delivery.text])).toEqual(names.map((name) => [name, `hello ${name}`]));
    for (const name of names) {
      const history = await call(a.url, 'GET', `/accounts/messages/?with=${encodeURIComponent(`${name}@orig`)}`, undefined, { token: bob.token });
      expect(history.body.results.map((m: { message: string }) => m.message)).toEqual([`hello ${name}`, `I am ${name}`]);
    }
  });
});
