// POST /federation/transactions/ as a peer sends it: items applied in order, each deduped by its
// id; a bad item answered on its own; a request that fails a check refused whole, nothing applied.
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { newKey, startTestApp, type TestApp } from '../../helpers/app.js';
import { describeEachDatabase } from '../../helpers/databases.js';
import { call, registerUser, type RegisteredUser } from '../../helpers/http.js';
import { openDatabase } from '../../../src/db/database.js';
import { loadConfig } from '../../../src/config.js';
import { messageItem, postTransaction, transactionRequest } from './peer-transactions.js';

describeEachDatabase('inbound transactions', (database) => {
  const key = newKey();
  let b: TestApp;
  let bob: RegisteredUser;

  beforeAll(async () => {
    b = await startTestApp({ database, env: { SERVER_NAME: 'b', FEDERATION_BATCH_BYTES: '64kb', PEERS: JSON.stringify([{ name: 'a', url: 'http://127.0.0.1:9', key }]) } });
    bob = await registerUser(b.url, 'bob');
  });
  afterAll(() => b.destroy());

  const inbox = async (): Promise<string[]> =>
    (await call(b.url, 'GET', '/accounts/messages/?with=alice@a&limit=200', undefined, { token: bob.token })).body.results.map((m: { message: string }) => m.message).reverse();

  it('applies the items in order and answers one result per item, without their text', async () => {
    const items = ['first', 'second', 'third'].map((text) => messageItem(text));
    const response = await postTransaction(b.url, transactionRequest({ key, items }));
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ results: items.map((item) => ({ id: item.id, status: 200 })) });
    expect(JSON.stringify(response.body)).not.toContain('first');
    expect((await inbox()).slice(-3)).toEqual(['first', 'second', 'third']);
  });

  it('answers each bad item with its own 4xx and applies the others', async () => {
    const before = (await inbox()).length;
    const good = [messageItem('good one'), messageItem('good\ttwo\r\non two lines'), messageItem('good three')];
    const items = [
      good[0],
      { type: 'message', id: randomUUID(), sender: 'alice' },
      'not an object',
      { type: 'poll', id: randomUUID() },
      messageItem('to nobody', { receiver: 'ghost' }),
      good[1],
      messageItem('   ', {}),
      messageItem('bad sender', { sender: 'x@y' }),
      { type: 'edit', id: randomUUID(), ref: randomUUID(), sender: 'alice', receiver: 'bob', text: 'edit of nothing', timestamp: new Date().toISOString() },
      { type: 'read', id: randomUUID(), reader: 'alice', partner: 'bob', up_to: randomUUID(), read_at: new Date().toISOString() },
      // What a client could not send: a null or another control character in the text (tabs and line breaks are fine), or in a name.
      messageItem('a \u0000 null'),
      messageItem('an \u001b escape'),
      messageItem('to bob\u001b', { receiver: 'bob\u001b' }),
      // Typing is never stored, but its names are held to the same rule; a good one is passed on.
      { type: 'typing', id: randomUUID(), from: 'alice', to: 'bob\u0007' },
      { type: 'typing', id: randomUUID(), from: 'alice', to: 'bo\ud800b' },
      { type: 'typing', id: randomUUID(), from: 'carol\u0000@a', group: randomUUID() },
      { type: 'typing', id: randomUUID(), from: 'alice', to: 'bob' },
      good[2],
    ];
    const response = await postTransaction(b.url, transactionRequest({ key, items }));
    expect(response.status).toBe(200);
    expect(response.body.results.map((result: { status: number; code?: string }) => [result.status, result.code])).toEqual([
      [200, undefined],
      [400, 'validation_error'],
      [400, 'invalid_item'],
      [400, 'unknown_item_type'],
      [404, 'unknown_receiver'],
      [200, undefined],
      [400, 'validation_error'],
      [400, 'validation_error'],
      [404, 'not_found'],
      [404, 'not_found'],
      [400, 'validation_error'],
      [400, 'validation_error'],
      [400, 'validation_error'],
      [400, 'validation_error'],
      [400, 'validation_error'],
      [400, 'validation_error'],
      [200, undefined],
      [200, undefined],
    ]);
    expect((await inbox()).slice(before)).toEqual(['good one', 'good\ttwo\r\non two lines', 'good three']);
  });

  it("keeps a read's time between the message's own and now, whatever the peer says", async () => {
    const sent = await call(b.url, 'POST', '/accounts/send-message/', { message: 'read when?', receiver: 'alice@a' }, { token: bob.token });
    expect(sent.status).toBe(201);
    const mine = (await call(b.url, 'GET', '/accounts/messages/?with=alice@a&limit=1', undefined, { token: bob.token })).body.results[0] as { id: number; timestamp: string };
    expect(mine.id).toBe(sent.body.id);
    // The id a peer knows the message by (clients never see it).
    const db = openDatabase(loadConfig(b.env, b.dir).database);
    const uuid = await db.db.selectFrom('messages').select('uuid').where('id', '=', mine.id).executeTakeFirstOrThrow().finally(() => db.close());
    const read = { type: 'read', id: randomUUID(), reader: 'alice', partner: 'bob', up_to: uuid.uuid, read_at: '1999-01-01T00:00:00.000Z' };
    expect((await postTransaction(b.url, transactionRequest({ key, items: [read] }))).body).toEqual({ results: [{ id: read.id, status: 200 }] });
    const after = (await call(b.url, 'GET', '/accounts/messages/?with=alice@a&limit=1', undefined, { token: bob.token })).body.results[0] as { read_at: string };
    expect(Date.parse(after.read_at)).toBeGreaterThanOrEqual(Date.parse(mine.timestamp));
  });

  it('answers a repeated item with its first answer and stores it once, within a transaction and across two', async () => {
    const item = messageItem('only once');
    const first = await postTransaction(b.url, transactionRequest({ key, items: [item, item] }));
    expect(first.body.results).toEqual([
      { id: item.id, status: 200 },
      { id: item.id, status: 200 },
    ]);
    const again = await postTransaction(b.url, transactionRequest({ key, items: [item, messageItem('after the repeat')] }));
    expect(again.body.results[0]).toEqual({ id: item.id, status: 200 });
    expect((await inbox()).filter((text) => text === 'only once')).toHaveLength(1);
  });

  it('answers an item refused before with that refusal, though it is now sent right, and stores nothing', async () => {
    const toNobody = messageItem('to nobody', { receiver: 'nobody-here' }) as { id: string };
    const first = await postTransaction(b.url, transactionRequest({ key, items: [toNobody] }));
    expect(first.body.results).toEqual([{ id: toNobody.id, status: 404, code: 'unknown_receiver' }]);
    // The same id again, now to a user who exists: the first answer, as for any repeated item.
    const again = await postTransaction(b.url, transactionRequest({ key, items: [{ ...toNobody, receiver: 'bob', text: 'sent again' }, messageItem('a new one')] }));
    expect(again.body.results[0]).toEqual({ id: toNobody.id, status: 404, code: 'unknown_receiver' });
    expect(again.body.results[1]).toMatchObject({ status: 200 });
    expect(await inbox()).not.toContain('sent again');
  });

  it('refuses a tampered, unsigned, stale, wrongly signed or reflected transaction whole, applying nothing', async () => {
    const before = await inbox();
    const items = [messageItem('must not arrive')];
    const stale = Math.floor(Date.now() / 1000) - 600;
    const refusals = [
      [transactionRequest({ key, items, tamper: (body) => body.replace(/"items":"(.)/, '"items":"A') }), 401, 'invalid_signature'],
      [transactionRequest({ key, items, signWith: null }), 401, 'invalid_signature'],
      [transactionRequest({ key, items, origin: null }), 403, 'unknown_peer'],
      [transactionRequest({ key, items, origin: 'c' }), 403, 'unknown_peer'],
      [transactionRequest({ key, items, signatureTime: stale }), 401, 'invalid_signature'],
      [transactionRequest({ key, items, tokenTime: stale }), 400, 'invalid_token_payload'],
      [transactionRequest({ key, items, signWith: newKey() }), 401, 'invalid_signature'],
      // Signed for a as if b had sent it: a reflection of b's own request.
      [transactionRequest({ key, items, destination: 'a' }), 401, 'invalid_signature'],
      [transactionRequest({ key: newKey(), items, signWith: key }), 400, 'invalid_token_payload'],
      [transactionRequest({ key, items: [] }), 400, 'invalid_token_payload'],
      [transactionRequest({ key, items: { not: 'a list' } }), 400, 'invalid_token_payload'],
    ] as const;
    for (const [request, status, code] of refusals) {
      const response = await postTransaction(b.url, request);
      expect([response.status, response.body.code]).toEqual([status, code]);
    }
    expect(await inbox()).toEqual(before);
  });

  it('accepts a transaction body up to twice FEDERATION_BATCH_BYTES on its path alone', async () => {
    // 64kb of items: about 85kb once sealed and encoded, over the default BODY_LIMIT of 64kb.
    const items = Array.from({ length: 16 }, (_, n) => messageItem(`${n} ${'x'.repeat(3900)}`));
    const request = transactionRequest({ key, items });
    expect(request.body.length).toBeGreaterThan(80_000);
    const response = await postTransaction(b.url, request);
    expect(response.status).toBe(200);
    expect(response.body.results.every((result: { status: number }) => result.status === 200)).toBe(true);
    const tooLarge = transactionRequest({ key, items: Array.from({ length: 10 }, (_, n) => messageItem(`${n} ${'y'.repeat(9000)}`)) });
    expect(tooLarge.body.length).toBeGreaterThan(2 * 64 * 1024);
    expect((await postTransaction(b.url, tooLarge)).status).toBe(413);
    // Elsewhere BODY_LIMIT still holds; v1 receive-message takes a full-size message's request
    // (up to 192 KiB), and no more.
    expect((await call(b.url, 'POST', '/accounts/login/', undefined, { raw: request.body, headers: { 'content-type': 'application/json' } })).status).toBe(413);
    expect((await call(b.url, 'POST', '/accounts/receive-message/', undefined, { raw: request.body, headers: request.headers })).status).not.toBe(413);
    const pastV1 = JSON.stringify({ message: 'z'.repeat(200 * 1024), sender: 'alice', receiver: 'bob' });
    expect((await call(b.url, 'POST', '/accounts/receive-message/', undefined, { raw: pastV1, headers: { 'content-type': 'application/json' } })).status).toBe(413);
  });

  it('answers 503 whole while its database fails, and applies the transaction when it is sent again', async () => {
    const items = [messageItem('through a fault 1'), messageItem('through a fault 2')];
    const request = transactionRequest({ key, items });
    const db = openDatabase(loadConfig(b.env, b.dir).database);
    try {
      await sql`alter table federation_receipts rename to receipts_away`.execute(db.db);
      const failed = await postTransaction(b.url, request);
      expect([failed.status, failed.body.code]).toEqual([503, 'unavailable']);
      await sql`alter table receipts_away rename to federation_receipts`.execute(db.db);
    } finally {
      await db.close();
    }
    const again = await postTransaction(b.url, request);
    expect(again.body.results).toEqual(items.map((item) => ({ id: item.id, status: 200 })));
    expect((await inbox()).slice(-2)).toEqual(['through a fault 1', 'through a fault 2']);
  });
});
