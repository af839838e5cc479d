// pageOf: a page is the first `limit` rows of `limit + 1` read, and `next` is the cursor of its
// last row only when the extra row shows that more follow.
import { describe, expect, it } from 'vitest';
import { pageOf } from '../../src/http/pagination.js';

const cursorOf = (last: { id: number }) => `c${last.id}`;
const rows = (count: number) => Array.from({ length: count }, (_, index) => ({ id: index + 1 }));

describe('pageOf', () => {
  it('gives the cursor of the last row shown when one more row was read', () => {
    expect(pageOf(rows(4), 3, cursorOf)).toEqual({ results: rows(3), next: 'c3' });
  });

  it('gives next null when exactly limit rows were read', () => {
    expect(pageOf(rows(3), 3, cursorOf)).toEqual({ results: rows(3), next: null });
  });

  it('gives next null for a short page and for no rows', () => {
    expect(pageOf(rows(2), 3, cursorOf)).toEqual({ results: rows(2), next: null });
    expect(pageOf([], 3, cursorOf)).toEqual({ results: [], next: null });
  });

  it('keeps the cursor in the form the caller gives (a number, as the feed seq)', () => {
    expect(pageOf([5, 6, 7], 2, (seq) => seq)).toEqual({ results: [5, 6], next: 6 });
  });

  it('holds a single row and still says that more follow', () => {
    expect(pageOf(rows(2), 1, cursorOf)).toEqual({ results: rows(1), next: 'c1' });
  });

  it('does not change the rows it was given', () => {
    const read = rows(3);
    pageOf(read, 2, cursorOf);
    expect(read).toEqual(rows(3));
  });

  it.each([0, -1, 1.5, Number.NaN])('refuses a limit of %s', (limit) => {
    expect(() => pageOf(rows(2), limit, cursorOf)).toThrow(RangeError);
  });
});
