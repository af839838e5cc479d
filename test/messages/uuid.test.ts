// Federation ids are UUIDv7: valid UUIDs whose order follows time.
import { describe, expect, it } from 'vitest';
import { timeOrderedUuid } from '../../src/db/uuid.js';

describe('timeOrderedUuid', () => {
  it('makes version 7, variant 10 UUIDs that carry the millisecond time', () => {
    const now = Date.parse('2026-01-02T03:04:05.678Z');
    const id = timeOrderedUuid(now);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(now);
  });

  it('sorts later ids after earlier ones, and never repeats', () => {
    const ids = Array.from({ length: 1000 }, (_, i) => timeOrderedUuid(1_700_000_000_000 + Math.floor(i / 10)));
    expect(new Set(ids).size).toBe(1000);
    for (let i = 10; i < ids.length; i += 10) expect(ids[i]! > ids[i - 1]!).toBe(true);
  });
});
