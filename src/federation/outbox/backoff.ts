// How long an outbox entry waits after a failed attempt: exponential backoff with equal jitter,
// from one second up to five minutes.

/** The ceiling after the first failed attempt; it doubles with each further one. */
export const FIRST_BACKOFF_MS = 1000;
/** The ceiling never grows past this: a peer back up is tried again within five minutes. */
export const MAX_BACKOFF_MS = 5 * 60_000;

/**
 * The wait before the next attempt of an entry that has failed `attempts` times (1 or more),
 * with `random` in [0, 1). Equal jitter: at least half the ceiling, so retries spread out but
 * still back off. Whole milliseconds: PostgreSQL keeps the next attempt's time in a bigint and
 * refuses a fraction, which left every retry to wait for its lease to lapse.
 */
export function retryDelay(attempts: number, random: number): number {
  // The exponent is capped so that a long-dead peer's count cannot overflow to Infinity.
  const ceiling = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** Math.min(attempts - 1, 30));
  return Math.floor(ceiling / 2 + (random * ceiling) / 2);
}
