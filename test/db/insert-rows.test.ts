// Inserts compiled once per shape: each call binds its own rows' values, also when a shape is
// reused or several shapes share a table, and a clause that would freeze a value is refused. Rows
// go in chunks: on SQLite of a few sizes, so that a few statements serve every size of batch.
import type { Kysely } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chunkSizes, insertRows } from '../../src/db/insert-rows.js';
import type { Tables } from '../../src/db/schema.js';
import { memoryDatabaseWithAlice } from '../helpers/memory-database.js';

describe('insertRows [sqlite]', () => {
  let db: Kysely<Tables>;

  beforeEach(async () => {
    ({ db } = await memoryDatabaseWithAlice());
  });
  afterEach(() => db.destroy());

  const event = (seq: number, type: string) => ({ seq, user_id: 1, type, message_id: null, data: `{"n":${seq}}`, created_at: seq * 10 });
  const stored = () => db.selectFrom('events').select(['seq', 'type', 'data', 'created_at']).orderBy('seq').execute();

  it('binds the values of each call, through shapes built once and reused', async () => {
    await insertRows(db, 'sqlite', 'events', [event(1, 'read')]);
    await insertRows(db, 'sqlite', 'events', [event(2, 'status'), event(3, 'read'), event(4, 'status')]);
    await insertRows(db, 'sqlite', 'events', [event(5, 'read')]);
    await insertRows(db, 'sqlite', 'events', [event(6, 'status'), event(7, 'read'), event(8, 'read')]);
    expect(await stored()).toEqual(
      [1, 2, 3, 4, 5, 6, 7, 8].map((seq) => ({ seq, type: ['read', 'status', 'read', 'status', 'read', 'status', 'read', 'read'][seq - 1], data: `{"n":${seq}}`, created_at: seq * 10 })),
    );
  });

  it('answers what the finishing clause returns', async () => {
    const returned = await insertRows(db, 'sqlite', 'events', [event(9, 'read'), event(10, 'read')], (insert) => insert.returning(['seq', 'created_at']));
    expect(returned.rows).toEqual([
      { seq: 9, created_at: 90 },
      { seq: 10, created_at: 100 },
    ]);
  });

  it('refuses a finishing clause that holds a value of its own, and a row without a column', async () => {
    await expect(
      insertRows(db, 'sqlite', 'events', [event(11, 'read')], (insert) => insert.onConflict((conflict) => conflict.column('seq').doUpdateSet({ type: 'frozen' }))),
    ).rejects.toThrow(/binds values other than the ones it is given/);
    const { data: _, ...withoutData } = event(12, 'read');
    await expect(insertRows(db, 'sqlite', 'events', [event(13, 'read'), withoutData as ReturnType<typeof event>])).rejects.toThrow(/no value for data/);
    expect(await stored()).toEqual([]);
  });

  it('inserts any number of rows in chunks, in order, answering every returned row', async () => {
    const events = Array.from({ length: 300 }, (_, index) => event(index + 1, index % 3 === 0 ? 'status' : 'read'));
    const returned = await insertRows(db, 'sqlite', 'events', events, (insert) => insert.returning(['seq', 'type']));
    expect(returned.rows).toEqual(events.map(({ seq, type }) => ({ seq, type })));
    expect(await stored()).toEqual(events.map(({ seq, type, data, created_at }) => ({ seq, type, data, created_at })));
  });
});

describe('chunkSizes', () => {
  it('splits rows on SQLite into powers of two up to 128, the largest first', () => {
    expect(chunkSizes(1, 'sqlite')).toEqual([1]);
    expect(chunkSizes(70, 'sqlite')).toEqual([64, 4, 2]);
    expect(chunkSizes(200, 'sqlite')).toEqual([128, 64, 8]);
    expect(chunkSizes(300, 'sqlite')).toEqual([128, 128, 32, 8, 4]);
    const sizes = new Set(Array.from({ length: 1_000 }, (_, index) => chunkSizes(index + 1, 'sqlite')).flat());
    expect([...sizes].sort((a, b) => a - b)).toEqual([1, 2, 4, 8, 16, 32, 64, 128]);
  });

  it('on PostgreSQL, which parses every statement anyway, makes as few as its limit allows', () => {
    expect(chunkSizes(70, 'postgres')).toEqual([70]);
    expect(chunkSizes(5_000, 'postgres')).toEqual([2_048, 2_048, 904]);
  });

  it('makes no chunk of no rows', () => {
    expect(chunkSizes(0, 'sqlite')).toEqual([]);
    expect(chunkSizes(0, 'postgres')).toEqual([]);
  });
});
