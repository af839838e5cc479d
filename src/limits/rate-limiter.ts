// Fixed-window attempt counters for abuse limits: in memory for one instance, in Redis
// when several instances must share the count.
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

/** A per-user budget: `count` per `perMs`, with bursts of up to `burst`. */
export interface RateBudget {
  count: number;
  perMs: number;
  burst: number;
}

export interface WindowCount {
  count: number;
  /** Milliseconds until the window resets. */
  resetInMs: number;
}

export interface RateLimitStore {
  /** Adds one attempt to the key's window and returns the new count. */
  hit(key: string, windowMs: number): Promise<WindowCount>;
  /** The key's count without adding to it. */
  peek(key: string): Promise<WindowCount>;
  /** Takes back one attempt counted by `hit` (an attempt that turned out to be legitimate). */
  giveBack(key: string): Promise<void>;
}

/** A counter and the most attempts it allows per window. */
export interface Budget {
  key: string;
  limit: number;
}

/**
 * Counts one attempt on every budget before the attempt runs (each count is one atomic
 * increment, so concurrent attempts cannot all slip under a limit). Returns how many
 * milliseconds until every overspent budget has room again: 0 when the attempt may go on.
 */
export async function spendBudgets(store: RateLimitStore, budgets: Budget[], windowMs: number): Promise<number> {
  const windows = await Promise.all(budgets.map(({ key }) => store.hit(key, windowMs)));
  return Math.max(0, ...windows.map((window, index) => (window.count > budgets[index]!.limit ? window.resetInMs : 0)));
}

/** Takes back the attempt `spendBudgets` counted, for an attempt that turned out not to count. */
export async function giveBackBudgets(store: RateLimitStore, budgets: Budget[]): Promise<void> {
  await Promise.all(budgets.map(({ key }) => store.giveBack(key)));
}

export class MemoryRateLimitStore implements RateLimitStore {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();
  private lastSweep = 0;

  constructor(private readonly clock: () => number = Date.now) {}

  async hit(key: string, windowMs: number): Promise<WindowCount> {
    const now = this.clock();
    this.sweep(now, windowMs);
    let window = this.windows.get(key);
    if (!window || window.resetAt <= now) {
      window = { count: 0, resetAt: now + windowMs };
      this.windows.set(key, window);
    }
    window.count += 1;
    return { count: window.count, resetInMs: window.resetAt - now };
  }

  async peek(key: string): Promise<WindowCount> {
    const now = this.clock();
    const window = this.windows.get(key);
    if (!window || window.resetAt <= now) return { count: 0, resetInMs: 0 };
    return { count: window.count, resetInMs: window.resetAt - now };
  }

  async giveBack(key: string): Promise<void> {
    const window = this.windows.get(key);
    if (window && window.resetAt > this.clock() && window.count > 0) window.count -= 1;
  }

  /** Drops ended windows now and then, so keys from a scan of addresses cannot grow memory for ever. */
  private sweep(now: number, windowMs: number): void {
    if (now - this.lastSweep < windowMs) return;
    this.lastSweep = now;
    for (const [key, window] of this.windows) if (window.resetAt <= now) this.windows.delete(key);
  }
}

/**
 * Counts shared by every instance. While Redis is unreachable the counts fall back to this
 * instance's memory: limits stay on (per instance) and logins keep working.
 */
export class RedisRateLimitStore implements RateLimitStore {
  constructor(
    private readonly redis: Redis,
    private readonly fallback: RateLimitStore,
    private readonly logger: Logger,
    private readonly prefix = 'realchat:ratelimit:',
  ) {}

  async hit(key: string, windowMs: number): Promise<WindowCount> {
    const redisKey = this.prefix + key;
    try {
      const results = await this.redis.multi().incr(redisKey).pexpire(redisKey, windowMs, 'NX').pttl(redisKey).exec();
      const count = Number(results?.[0]?.[1] ?? 1);
      const ttl = Number(results?.[2]?.[1] ?? windowMs);
      return { count, resetInMs: ttl > 0 ? ttl : windowMs };
    } catch (error) {
      this.logger.warn({ err: error }, 'rate limit store unreachable; counting in memory');
      return this.fallback.hit(key, windowMs);
    }
  }

  async peek(key: string): Promise<WindowCount> {
    const redisKey = this.prefix + key;
    try {
      const [count, ttl] = await Promise.all([this.redis.get(redisKey), this.redis.pttl(redisKey)]);
      return { count: Number(count ?? 0), resetInMs: Math.max(0, ttl) };
    } catch (error) {
      this.logger.warn({ err: error }, 'rate limit store unreachable; counting in memory');
      return this.fallback.peek(key);
    }
  }

  async giveBack(key: string): Promise<void> {
    try {
      // Only a live window is decremented: DECR on an expired key would create one without expiry.
      await this.redis.eval(GIVE_BACK_SCRIPT, 1, this.prefix + key);
    } catch (error) {
      this.logger.warn({ err: error }, 'rate limit store unreachable; counting in memory');
      await this.fallback.giveBack(key);
    }
  }
}

const GIVE_BACK_SCRIPT = "if (tonumber(redis.call('get', KEYS[1]) or '0') > 0) then redis.call('decr', KEYS[1]) end return 0";
