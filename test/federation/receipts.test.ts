// What a receiver keeps of a peer's requests: a receipt per request id, and no text beside the
// message itself, so that a delete leaves no text anywhere and an edit no old text; receipts go
// once a peer can no longer repeat their request (FEDERATION_GIVE_UP + FEDERATION_MAX_AGE).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { KeyRing, openAtRest } from '../../src/crypto/aead.js';
import { decodeKey } from '../../src/crypto/keys.js';
import type { Database } from '../../src/db/database.js';
import { newKey } from '../helpers/app.js';
import { startBackends, type Backend } from '../helpers/backends.js';
import { describeEachDatabase } from '../helpers/databases.js';
import { registerUser } from '../helpers/http.js';
import { eventually, peerChange, peerRequest, postAsPeer } from './peer-requests.js';

const HOUR = 3_600_000;

describeEachDatabase("the receiver's kept answers and receipts", (database) => {
  let b: Backend;
  let key: string;
  let db: Database;
  let now = Date.now();

  beforeAll(async () => {
    [, b] = (await startBackends(database, ['a', 'b'], { start: false })) as [Backend, Backend];
    await b.start({ FEDERATION_GIVE_UP: '1h', FEDERATION_MAX_AGE: '300s', STORAGE_KEY: newKey() }, { clock: () => now, receiptPruneIntervalMs: 50 });
    key = b.peers.find((peer) => peer.name === 'a')!.key;
    await registerUser(b.url, 'bob');
    db = b.openDatabase();
  });
  afterAll(async () => {
    await db.close();
    await b.destroy();
  });

  const seconds = () => Math.floor(now / 1000);
  const deliver = (text: string, id = randomUUID()) =>
    postAsPeer(b.url, peerRequest({ key, receiver: 'bob', text, id, tokenTime: seconds(), signatureTime: seconds() }));
  const change = (fields: { op: 'edit' | 'delete'; ref: string; id?: string; text?: string }) => postAsPeer(b.url, peerChange(key, ['a', 'b'], fields));

  /** Every text the database holds: message bodies opened, and every other column of every receipt. */
  async function storedTexts(): Promise<string[]> {
    const ring = new KeyRing(decodeKey(b.env.STORAGE_KEY!));
    const messages = await db.db.selectFrom('messages').select(['id', 'body']).execute();
    const bodies = messages.filter((row) => row.body !== '').map((row) => openAtRest(ring, row.body, String(row.id)));
    const receipts = await db.db.selectFrom('federation_receipts').selectAll().execute();
    return [...bodies, ...receipts.flatMap((row) => Object.values(row).map(String))];
  }

  it('keeps no text of a deleted message anywhere, and answers a repeat of its delivery or of an earlier edit with ""', async () => {
    const ref = randomUUID();
    const editId = randomUUID();
    expect(await deliver('the first secret', ref)).toMatchObject({ status: 200, body: { message: 'the first secret' } });
    expect(await change({ op: 'edit', ref, id: editId, text: 'the second secret' })).toMatchObject({ status: 200, body: { message: 'the second secret' } });
    expect(await change({ op: 'delete', ref })).toMatchObject({ status: 200, body: { message: '' } });

    expect(await deliver('the first secret', ref)).toMatchObject({ status: 200, body: { message: '' } });
    expect(await change({ op: 'edit', ref, id: editId, text: 'the second secret' })).toMatchObject({ status: 200, body: { message: '' } });
    const texts = await storedTexts();
    expect(texts.filter((text) => text.includes('secret'))).toEqual([]);
  });

  it('keeps no old text after an edit: a repeat of the delivery is answered with the text it has now', async () => {
    const ref = randomUUID();
    expect(await deliver('words said first', ref)).toMatchObject({ status: 200 });
    expect(await change({ op: 'edit', ref, text: 'words said now' })).toMatchObject({ status: 200, body: { message: 'words said now' } });
    expect(await deliver('words said first', ref)).toMatchObject({ status: 200, body: { message: 'words said now' } });
    expect((await storedTexts()).filter((text) => text.includes('said first'))).toEqual([]);
  });

  it('prunes receipts once FEDERATION_GIVE_UP + FEDERATION_MAX_AGE have passed, and keeps younger ones', async () => {
    const old = randomUUID();
    const young = randomUUID();
    const start = now;
    expect(await deliver('an old one', old)).toMatchObject({ status: 200 });
    now = start + HOUR + 290_000;
    expect(await deliver('a young one', young)).toMatchObject({ status: 200 });
    now = start + HOUR + 301_000;
    const keys = async () => (await db.db.selectFrom('federation_receipts').select('request_key').execute()).map((row) => row.request_key);
    await eventually(async () => expect(await keys()).not.toContain(old));
    expect(await keys()).toContain(young);
    // The message itself stays.
    expect(await db.db.selectFrom('messages').select('id').where('uuid', '=', old).execute()).toHaveLength(1);
  });
});
