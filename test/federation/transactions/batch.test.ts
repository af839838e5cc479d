// The next transaction from a peer's due entries, called directly: a prefix in order, within the
// item and byte limits, and never stuck behind an item too large for a batch.
import { describe, expect, it } from 'vitest';
import { nextBatch } from '../../../src/federation/transactions/batch.js';
import type { TransactionItem } from '../../../src/federation/transactions/protocol.js';

interface Entry {
  seq: number;
  text: string;
}

const itemOf = (entry: Entry): TransactionItem => ({
  type: 'message',
  id: `0190a8d2-0000-7000-8000-${String(entry.seq).padStart(12, '0')}`,
  sender: 'alice',
  receiver: 'bob',
  text: entry.text,
  timestamp: '2026-01-01T00:00:00.000Z',
});
const entries = (count: number, text = 'hi'): Entry[] => Array.from({ length: count }, (_, seq) => ({ seq, text }));
const bytesOf = (items: TransactionItem[]) => Buffer.byteLength(JSON.stringify(items));
const ONE = bytesOf([itemOf({ seq: 0, text: 'hi' })]) - 2;

describe('the next transaction to a peer', () => {
  it('takes nothing from nothing', () => {
    expect(nextBatch([], itemOf, { items: 100, bytes: 1024 })).toEqual({ entries: [], items: [], bytes: 2 });
  });

  it('takes every due entry, in order, when they fit', () => {
    const due = entries(5);
    const batch = nextBatch(due, itemOf, { items: 100, bytes: 1024 * 1024 });
    expect(batch.entries).toEqual(due);
    expect(batch.items).toEqual(due.map(itemOf));
    expect(batch.bytes).toBe(bytesOf(batch.items));
  });

  it('stops at the item limit', () => {
    const due = entries(250);
    const batch = nextBatch(due, itemOf, { items: 100, bytes: 1024 * 1024 });
    expect(batch.entries).toEqual(due.slice(0, 100));
    expect(nextBatch(due.slice(100), itemOf, { items: 100, bytes: 1024 * 1024 }).entries).toEqual(due.slice(100, 200));
  });

  it('stops before the serialized items pass the byte limit, counting the array exactly', () => {
    const due = entries(10);
    const exactlyThree = 2 + 3 * ONE + 2;
    expect(nextBatch(due, itemOf, { items: 100, bytes: exactlyThree }).entries).toEqual(due.slice(0, 3));
    expect(nextBatch(due, itemOf, { items: 100, bytes: exactlyThree - 1 }).entries).toEqual(due.slice(0, 2));
    expect(nextBatch(due, itemOf, { items: 100, bytes: exactlyThree }).bytes).toBe(exactlyThree);
  });

  it('counts bytes, not characters', () => {
    const due = entries(4, 'é🎉');
    const oneWide = bytesOf([itemOf(due[0]!)]) - 2;
    expect(oneWide).toBe(ONE - 2 + 6);
    expect(nextBatch(due, itemOf, { items: 100, bytes: 2 + 2 * oneWide + 1 }).entries).toHaveLength(2);
  });

  it('sends an item over the byte limit alone, and stops before the next one that is', () => {
    const due = [{ seq: 0, text: 'x'.repeat(5000) }, ...entries(3).map((entry) => ({ ...entry, seq: entry.seq + 1 }))];
    const batch = nextBatch(due, itemOf, { items: 100, bytes: 1000 });
    expect(batch.entries).toEqual(due.slice(0, 1));
    expect(batch.bytes).toBeGreaterThan(1000);
    const behind = [...entries(2), { seq: 2, text: 'x'.repeat(5000) }, ...entries(2)];
    expect(nextBatch(behind, itemOf, { items: 100, bytes: 1000 }).entries).toEqual(behind.slice(0, 2));
  });

  it('makes items only of the entries it takes and the first it leaves', () => {
    const made: number[] = [];
    nextBatch(entries(50), (entry) => (made.push(entry.seq), itemOf(entry)), { items: 10, bytes: 1024 * 1024 });
    expect(made).toEqual([...Array(10).keys()]);
    made.length = 0;
    nextBatch(entries(50), (entry) => (made.push(entry.seq), itemOf(entry)), { items: 100, bytes: 2 + 3 * ONE + 2 });
    expect(made).toEqual([0, 1, 2, 3]);
  });
});
