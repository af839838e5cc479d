// Queries compiled once per shape: each call binds its own values, wherever the query puts them,
// and a query that would freeze a value of its own, or drop one it is given, is refused.
import type { Kysely } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { insertRows } from '../../src/db/insert-rows.js';
import { executeShaped, paddedList } from '../../src/db/query-shapes.js';
import type { Tables } from '../../src/db/schema.js';
import { memoryDatabaseWithAlice } from '../helpers/memory-database.js';

describe('executeShaped [sqlite]', () => {
  let db: Kysely<Tables>;

  beforeEach(async () => {
    ({ db } = await memoryDatabaseWithAlice());
    const event = (seq: number) => ({ seq, user_id: 1, type: seq % 2 === 0 ? 'status' : 'read', message_id: null, data: null, created_at: seq * 10 });
    await insertRows(db, 'sqlite', 'events', [1, 2, 3, 4, 5, 6].map(event));
  });
  afterEach(() => db.destroy());

  /** Events of `types` above `after`: the list comes after the bound in the values and before it in the SQL. */
  const seqsOf = async (after: number, types: string[]) => {
    const { rows } = await executeShaped(db, 'sqlite', 'test events', [after, ...types], ([above, ...kinds]) =>
      db
        .selectFrom('events')
        .select('seq')
        .where('type', 'in', kinds as unknown as string[])
        .where('seq', '>', above as unknown as number)
        .orderBy('seq'),
    );
    return rows.map((row) => row.seq);
  };

  it('binds the values of each call to where the query put them, through a shape built once and reused', async () => {
    expect(await seqsOf(0, ['read'])).toEqual([1, 3, 5]);
    expect(await seqsOf(2, ['status'])).toEqual([4, 6]);
    expect(await seqsOf(3, ['read', 'status'])).toEqual([4, 5, 6]);
    expect(await seqsOf(4, ['status', 'read'])).toEqual([5, 6]);
  });

  it('refuses a query that binds a value of its own, or leaves one it is given unbound', async () => {
    await expect(executeShaped(db, 'sqlite', 'test frozen', [1], () => db.selectFrom('events').select('seq').where('seq', '>', 1))).rejects.toThrow(
      /binds values other than the ones it is given/,
    );
    await expect(
      executeShaped(db, 'sqlite', 'test dropped', [1, 2], ([above]) =>
        db
          .selectFrom('events')
          .select('seq')
          .where('seq', '>', above as unknown as number),
      ),
    ).rejects.toThrow(/leaves some of the values it is given unbound/);
  });
});

describe('paddedList', () => {
  it('pads a list with its last value to a power of two, and leaves one of that length alone', () => {
    expect(paddedList([7])).toEqual([7]);
    expect(paddedList([1, 2, 3])).toEqual([1, 2, 3, 3]);
    expect(paddedList([1, 2, 3, 4])).toEqual([1, 2, 3, 4]);
    expect(paddedList(['a', 'b', 'c', 'd', 'e'])).toEqual(['a', 'b', 'c', 'd', 'e', 'e', 'e', 'e']);
  });

  it('refuses an empty list, which has nothing to pad with', () => {
    expect(() => paddedList([])).toThrow(RangeError);
  });
});
