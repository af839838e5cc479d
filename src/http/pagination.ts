// Keyset pagination, the one place that decides a page's `next`: a repository reads one row
// more than the page holds, and that extra row says whether a next page exists.

export interface Page<T, C> {
  results: T[];
  /** The cursor of the page's last row when more rows follow, else null. */
  next: C | null;
}

/**
 * The first `limit` of `rows` (read with `limit + 1`) and the cursor after them; `cursorOf`
 * gives the cursor in the form the route's spec promises (an opaque string, an id, a seq).
 */
export function pageOf<T, C>(rows: readonly T[], limit: number, cursorOf: (last: T) => C): Page<T, C> {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`a page holds at least one row, not ${limit}`);
  const results = rows.slice(0, limit);
  return { results, next: rows.length > limit ? cursorOf(results[limit - 1]!) : null };
}
