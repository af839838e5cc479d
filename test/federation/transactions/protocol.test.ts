// The transaction wire form, called directly: sealing and opening the item list under a peer key,
// every malformed item answered in its own slot, and a peer's answer read strictly.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encodeWireMessage, fernetEncrypt } from '../../../src/crypto/fernet.js';
import { decodeKey } from '../../../src/crypto/keys.js';
import { BadRequest } from '../../../src/http/errors.js';
import {
  checkItem,
  MAX_TRANSACTION_ITEMS,
  openTransaction,
  parseTransactionAnswer,
  sealTransaction,
  type TransactionItem,
} from '../../../src/federation/transactions/protocol.js';
import { newKey } from '../../helpers/app.js';

const key = decodeKey(newKey());
const otherKey = decodeKey(newKey());
const now = 1_760_000_000_000;
const clock = () => now;
const MAX_AGE_MS = 300_000;
const at = new Date(now).toISOString();
const id = () => randomUUID();

const items: TransactionItem[] = [
  { type: 'message', id: id(), sender: 'alice', receiver: 'bob', text: 'hello ünïcode 🎉', timestamp: at },
  { type: 'edit', id: id(), ref: id(), sender: 'alice', receiver: 'bob', text: 'hello again', timestamp: at },
  { type: 'delete', id: id(), ref: id(), sender: 'alice', receiver: 'bob', timestamp: at },
  { type: 'read', id: id(), reader: 'alice', partner: 'bob', up_to: id(), read_at: at },
  { type: 'typing', id: id(), from: 'alice', to: 'bob' },
];

/** The BadRequest a call throws, or a failure when it throws nothing. */
function refusal(call: () => unknown): BadRequest {
  try {
    call();
  } catch (error) {
    if (error instanceof BadRequest) return error;
    throw error;
  }
  throw new Error('expected a BadRequest');
}

/** A transaction body whose token holds any text, as a careless or hostile peer might seal it. */
function sealedText(text: string, tokenKey = key, sealedAt = now) {
  return { id: id(), items: encodeWireMessage(fernetEncrypt(tokenKey, text, { now: Math.floor(sealedAt / 1000) })) };
}

describe('sealing and opening a transaction', () => {
  it('opens what it sealed, every item type, in order', () => {
    const transactionId = id();
    const body = sealTransaction({ id: transactionId, items }, key, clock);
    expect(body.id).toBe(transactionId);
    expect(body.items).toMatch(/^[A-Za-z0-9_-]+=*$/);
    expect(openTransaction(body, [key], MAX_AGE_MS, clock)).toEqual(items.map((item) => ({ ok: true, item })));
  });

  it('opens under a previous key of the peer', () => {
    const body = sealTransaction({ id: id(), items }, otherKey, clock);
    expect(openTransaction(body, [key, otherKey], MAX_AGE_MS, clock)).toHaveLength(items.length);
  });

  it('seals a fresh token each time, so a retry is inside the time window again', () => {
    const transaction = { id: id(), items };
    const first = sealTransaction(transaction, key, clock);
    const later = sealTransaction(transaction, key, () => now + 3_600_000);
    expect(later.items).not.toBe(first.items);
    expect(refusal(() => openTransaction(first, [key], MAX_AGE_MS, () => now + 3_600_000)).code).toBe('invalid_token_payload');
    expect(openTransaction(later, [key], MAX_AGE_MS, () => now + 3_600_000)).toHaveLength(items.length);
  });

  it('refuses the whole transaction when its token is tampered, under another key, stale or from the future', () => {
    const body = sealTransaction({ id: id(), items }, key, clock);
    const token = Buffer.from(body.items, 'base64url').toString('latin1');
    const flipped = token.slice(0, 40) + (token[40] === 'A' ? 'B' : 'A') + token.slice(41);
    const cases = [
      { ...body, items: encodeWireMessage(flipped) },
      { ...body, items: 'not a token' },
      sealTransaction({ id: id(), items }, otherKey, clock),
      sealTransaction({ id: id(), items }, key, () => now - MAX_AGE_MS - 2000),
      sealTransaction({ id: id(), items }, key, () => now + 120_000),
    ];
    for (const refused of cases) {
      const error = refusal(() => openTransaction(refused, [key], MAX_AGE_MS, clock));
      expect(error.status).toBe(400);
      expect(error.code).toBe('invalid_token_payload');
    }
  });

  it('refuses the whole transaction when its token holds no list of items, an empty one or too long a one', () => {
    const tooMany = JSON.stringify(Array.from({ length: MAX_TRANSACTION_ITEMS + 1 }, () => items[4]));
    for (const text of ['not json', '{"items":[]}', '"message"', '[]', tooMany]) {
      expect(refusal(() => openTransaction(sealedText(text), [key], MAX_AGE_MS, clock)).code, text.slice(0, 20)).toBe('invalid_token_payload');
    }
    const most = JSON.stringify(Array.from({ length: MAX_TRANSACTION_ITEMS }, () => items[4]));
    expect(openTransaction(sealedText(most), [key], MAX_AGE_MS, clock)).toHaveLength(MAX_TRANSACTION_ITEMS);
  });

  it('answers each malformed item in its own slot and keeps the others', () => {
    const good = items[0]!;
    const opened = openTransaction(sealedText(JSON.stringify([good, { type: 'message', id: 'x' }, 42, good])), [key], MAX_AGE_MS, clock);
    expect(opened).toEqual([
      { ok: true, item: good },
      { ok: false, result: { id: 'x', status: 400, code: 'validation_error' } },
      { ok: false, result: { id: '', status: 400, code: 'invalid_item' } },
      { ok: true, item: good },
    ]);
  });
});

describe('checking one item', () => {
  const message = items[0]!;

  it('takes every item type the spec lists', () => {
    for (const item of items) expect(checkItem(item)).toEqual({ ok: true, item });
  });

  it('takes fields it does not know, for items of later versions', () => {
    const item = { ...message, reply_to: id() };
    expect(checkItem(item)).toEqual({ ok: true, item });
  });

  it.each([
    ['null', null, '', 'invalid_item'],
    ['a string', 'message', '', 'invalid_item'],
    ['an array', [message], '', 'invalid_item'],
    ['no type', { ...message, type: undefined }, message.id, 'unknown_item_type'],
    ['an unknown type', { ...message, type: 'poll' }, message.id, 'unknown_item_type'],
    ['a type that is no string', { ...message, type: 1 }, message.id, 'unknown_item_type'],
    ['a type of Object.prototype', { ...message, type: 'constructor' }, message.id, 'unknown_item_type'],
    ['an id that is no uuid', { ...message, id: 'not-a-uuid' }, 'not-a-uuid', 'validation_error'],
    ['no id', { ...message, id: undefined }, '', 'validation_error'],
    ['an id that is no string', { ...message, id: 7 }, '', 'validation_error'],
    ['an id too long to echo', { ...message, id: 'x'.repeat(65) }, '', 'validation_error'],
    ['no sender', { ...message, sender: undefined }, message.id, 'validation_error'],
    ['an empty receiver', { ...message, receiver: '' }, message.id, 'validation_error'],
    ['a text that is no string', { ...message, text: 5 }, message.id, 'validation_error'],
    ['too long a text', { ...message, text: 'x'.repeat(40_001) }, message.id, 'validation_error'],
    ['a timestamp that is no date', { ...message, timestamp: 'yesterday' }, message.id, 'validation_error'],
    ['an edit without ref', { ...items[1]!, ref: undefined }, items[1]!.id, 'validation_error'],
    ['an edit without text', { ...items[1]!, text: undefined }, items[1]!.id, 'validation_error'],
    ['a read without up_to', { ...items[3]!, up_to: undefined }, items[3]!.id, 'validation_error'],
    ['a read whose read_at is no date', { ...items[3]!, read_at: 12 }, items[3]!.id, 'validation_error'],
    ['a typing without to', { ...items[4]!, to: undefined }, items[4]!.id, 'validation_error'],
  ])('answers 400 for %s, under the id it can echo', (_name, raw, resultId, code) => {
    expect(checkItem(JSON.parse(JSON.stringify(raw)))).toEqual({ ok: false, result: { id: resultId, status: 400, code } });
  });
});

describe("reading a peer's answer", () => {
  const sent = items.slice(0, 3);

  it('takes one result per item, in order, applied or refused with a code', () => {
    const results = [
      { id: sent[0]!.id, status: 200 },
      { id: sent[1]!.id, status: 404, code: 'not_found' },
      { id: sent[2]!.id, status: 403, code: 'forbidden' },
    ];
    expect(parseTransactionAnswer(JSON.stringify({ results }), sent)).toEqual(results);
  });

  it.each([
    ['not JSON', 'oops'],
    ['no results', '{}'],
    ['a result short', JSON.stringify({ results: [{ id: sent[0]!.id, status: 200 }, { id: sent[1]!.id, status: 200 }] })],
    ['a result too many', JSON.stringify({ results: [...sent, sent[0]!].map((item) => ({ id: item.id, status: 200 })) })],
    ['results out of order', JSON.stringify({ results: [sent[1]!, sent[0]!, sent[2]!].map((item) => ({ id: item.id, status: 200 })) })],
    ['a 4xx without code', JSON.stringify({ results: sent.map((item) => ({ id: item.id, status: 400 })) })],
    ['a code that is no code', JSON.stringify({ results: sent.map((item) => ({ id: item.id, status: 400, code: '<b>No</b>' })) })],
    ['a 5xx for an item', JSON.stringify({ results: sent.map((item) => ({ id: item.id, status: 503, code: 'busy' })) })],
    ['a 201', JSON.stringify({ results: sent.map((item) => ({ id: item.id, status: 201 })) })],
  ])('treats %s as no answer', (_name, answer) => {
    expect(parseTransactionAnswer(answer, sent)).toBeUndefined();
  });
});
