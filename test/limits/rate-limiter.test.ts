// Giving back an attempt: both stores take back one unit of a live window, and never make a
// window of their own (a Redis key without expiry would count for ever).
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryRateLimitStore, RedisRateLimitStore, type RateLimitStore } from '../../src/limits/rate-limiter.js';
import { redisUrl } from '../helpers/databases.js';

function givingBack(name: string, store: () => RateLimitStore, ttlOf?: (key: string) => Promise<number>) {
  describe(`${name}: giveBack`, () => {
    it('takes back one attempt of a live window', async () => {
      await store().hit('taken', 60_000);
      await store().hit('taken', 60_000);
      await store().giveBack('taken');
      expect((await store().peek('taken')).count).toBe(1);
      expect((await store().hit('taken', 60_000)).count).toBe(2);
    });

    it('leaves a key with no window as it was', async () => {
      await store().giveBack('never-hit');
      expect((await store().peek('never-hit')).count).toBe(0);
      if (ttlOf) expect(await ttlOf('never-hit')).toBe(-2);
    });
  });
}

const memory = new MemoryRateLimitStore();
givingBack('memory', () => memory);

describe.skipIf(!redisUrl)('redis (set TEST_REDIS_URL to run)', () => {
  let redis: Redis;
  let store: RedisRateLimitStore;
  const prefix = `realchat:test:${randomBytes(4).toString('hex')}:`;

  beforeAll(() => {
    redis = new Redis(redisUrl!);
    store = new RedisRateLimitStore(redis, new MemoryRateLimitStore(), pino({ level: 'silent' }), prefix);
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  givingBack('redis', () => store, (key) => redis.pttl(prefix + key));
});
