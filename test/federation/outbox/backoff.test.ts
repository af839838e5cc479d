// The outbox's backoff: doubling from one second to a five-minute ceiling, with equal jitter.
import { describe, it, expect } from 'vitest';
import { FIRST_BACKOFF_MS, MAX_BACKOFF_MS, retryDelay } from '../../../src/federation/outbox/backoff.js';

describe('retryDelay', () => {
  it('waits between half and all of one second after the first failure', () => {
    expect(retryDelay(1, 0)).toBe(FIRST_BACKOFF_MS / 2);
    expect(retryDelay(1, 0.5)).toBe((FIRST_BACKOFF_MS * 3) / 4);
    expect(retryDelay(1, 0.999_999)).toBeLessThan(FIRST_BACKOFF_MS);
    expect(retryDelay(1, 0.999_999)).toBeGreaterThan(FIRST_BACKOFF_MS * 0.998);
  });

  it('answers whole milliseconds, which a bigint column on PostgreSQL can store, whatever the draw', () => {
    for (const random of [0.123_456_789, 0.37, 0.999_999, Math.PI / 4]) {
      for (const attempts of [1, 2, 7, 12]) expect(Number.isInteger(retryDelay(attempts, random))).toBe(true);
    }
  });

  it('doubles its bounds with each further failure', () => {
    for (let attempts = 1; attempts <= 8; attempts++) {
      const ceiling = FIRST_BACKOFF_MS * 2 ** (attempts - 1);
      expect(retryDelay(attempts, 0)).toBe(ceiling / 2);
      expect(retryDelay(attempts, 1)).toBe(ceiling);
    }
  });

  it('stops growing at five minutes, and never waits less than half of that from then on', () => {
    expect(MAX_BACKOFF_MS).toBe(5 * 60_000);
    // 2^8 s is under the ceiling, 2^9 s is over it.
    expect(retryDelay(9, 1)).toBe(256_000);
    expect(retryDelay(10, 1)).toBe(MAX_BACKOFF_MS);
    expect(retryDelay(10, 0)).toBe(MAX_BACKOFF_MS / 2);
  });

  it('stays finite and within bounds for a peer dead for any number of attempts', () => {
    for (const attempts of [31, 32, 1_000, 1_000_000, Number.MAX_SAFE_INTEGER]) {
      expect(retryDelay(attempts, 0)).toBe(MAX_BACKOFF_MS / 2);
      expect(retryDelay(attempts, 1)).toBe(MAX_BACKOFF_MS);
    }
  });

  it('spreads retries out: different draws give different delays, in order of the draw', () => {
    const delays = [0, 0.25, 0.5, 0.75].map((random) => retryDelay(5, random));
    expect(delays).toEqual([8_000, 10_000, 12_000, 14_000]);
  });
});
