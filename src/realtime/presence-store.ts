// Who is online, shared by the instances of a backend. Each instance holds an entry per user
// with sockets on it, with an expiry it keeps pushing forward while they stay open; a closed last
// socket (or an instance that died and stopped pushing) lets the entry run out PRESENCE_GRACE
// later. A user is online while any of their entries has not expired. Sweeping removes expired
// entries and reports each user who went offline to exactly one instance.
import type { Redis } from 'ioredis';

export interface PresenceRecord {
  online: boolean;
  /** When the user was last seen (epoch ms), if known. */
  lastSeen: number | null;
}

export interface PresenceStore {
  /** The user's entry on this instance lives until `expiresAt`; true when they were offline everywhere. */
  connect(userId: number, expiresAt: number, now: number): Promise<boolean>;
  /** Pushes the expiry of this instance's entries (users with sockets here, or just closed). */
  touch(userIds: number[], expiresAt: number): Promise<void>;
  /** Removes expired entries; answers the users now offline everywhere, each to one instance only. */
  sweep(now: number, graceMs: number): Promise<{ userId: number; lastSeen: number }[]>;
  lookup(userIds: number[], now: number): Promise<Map<number, PresenceRecord>>;
}

/** One instance: entries in memory. */
export class MemoryPresenceStore implements PresenceStore {
  private readonly expiries = new Map<number, number>();
  private readonly lastSeen = new Map<number, number>();

  async connect(userId: number, expiresAt: number, now: number): Promise<boolean> {
    const wasOnline = (this.expiries.get(userId) ?? 0) > now;
    this.expiries.set(userId, expiresAt);
    return !wasOnline;
  }

  async touch(userIds: number[], expiresAt: number): Promise<void> {
    for (const userId of userIds) this.expiries.set(userId, expiresAt);
  }

  async sweep(now: number, graceMs: number): Promise<{ userId: number; lastSeen: number }[]> {
    const offline: { userId: number; lastSeen: number }[] = [];
    for (const [userId, expiresAt] of this.expiries) {
      if (expiresAt > now) continue;
      this.expiries.delete(userId);
      this.lastSeen.set(userId, expiresAt - graceMs);
      offline.push({ userId, lastSeen: expiresAt - graceMs });
    }
    return offline;
  }

  async lookup(userIds: number[], now: number): Promise<Map<number, PresenceRecord>> {
    return new Map(userIds.map((userId) => [userId, { online: (this.expiries.get(userId) ?? 0) > now, lastSeen: this.lastSeen.get(userId) ?? null }]));
  }
}

// KEYS: the user's entries (instance -> expiry), the sweep index (user:instance -> expiry).
// ARGV: instance, expiry, now, user:instance. Answers 1 when no entry was live before.
const CONNECT = `
local live = redis.call('ZCOUNT', KEYS[1], '(' .. ARGV[3], '+inf')
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[4])
if live == 0 then return 1 else return 0 end`;

// KEYS: the sweep index, the last-seen hash. ARGV: now, prefix of user keys, grace, batch size.
// Answers user, last seen, user, last seen...: each user whose last live entry has run out.
const SWEEP = `
local now = tonumber(ARGV[1])
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[4]))
local offline = {}
for _, member in ipairs(expired) do
  redis.call('ZREM', KEYS[1], member)
  local sep = string.find(member, ':', 1, true)
  local user = string.sub(member, 1, sep - 1)
  local userKey = ARGV[2] .. user
  local latest = redis.call('ZRANGEBYSCORE', userKey, '-inf', now, 'WITHSCORES')
  local seen = 0
  for i = 1, #latest, 2 do
    redis.call('ZREM', userKey, latest[i])
    redis.call('ZREM', KEYS[1], user .. ':' .. latest[i])
    seen = math.max(seen, tonumber(latest[i + 1]))
  end
  if seen > 0 and redis.call('ZCARD', userKey) == 0 then
    local lastSeen = seen - tonumber(ARGV[3])
    redis.call('HSET', KEYS[2], user, lastSeen)
    table.insert(offline, user)
    table.insert(offline, tostring(lastSeen))
  end
end
return offline`;

const SWEEP_BATCH = 500;
const TOUCH_CHUNK = 1000;

/** Several instances: entries in Redis, under the backend's prefix. */
export class RedisPresenceStore implements PresenceStore {
  private readonly sweepKey: string;
  private readonly seenKey: string;
  private readonly userPrefix: string;

  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly instanceId: string,
  ) {
    this.sweepKey = `${prefix}:presence:expiry`;
    this.seenKey = `${prefix}:presence:seen`;
    this.userPrefix = `${prefix}:presence:user:`;
  }

  async connect(userId: number, expiresAt: number, now: number): Promise<boolean> {
    const result = await this.redis.eval(CONNECT, 2, this.userPrefix + userId, this.sweepKey, this.instanceId, expiresAt, now, `${userId}:${this.instanceId}`);
    return Number(result) === 1;
  }

  async touch(userIds: number[], expiresAt: number): Promise<void> {
    if (userIds.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const userId of userIds) pipeline.zadd(this.userPrefix + userId, expiresAt, this.instanceId);
    // The sweep index takes many members per command.
    for (let i = 0; i < userIds.length; i += TOUCH_CHUNK) {
      pipeline.zadd(this.sweepKey, ...userIds.slice(i, i + TOUCH_CHUNK).flatMap((userId) => [expiresAt, `${userId}:${this.instanceId}`]));
    }
    await pipeline.exec();
  }

  async sweep(now: number, graceMs: number): Promise<{ userId: number; lastSeen: number }[]> {
    const result = (await this.redis.eval(SWEEP, 2, this.sweepKey, this.seenKey, now, this.userPrefix, graceMs, SWEEP_BATCH)) as string[];
    const offline: { userId: number; lastSeen: number }[] = [];
    for (let i = 0; i < result.length; i += 2) offline.push({ userId: Number(result[i]), lastSeen: Number(result[i + 1]) });
    return offline;
  }

  async lookup(userIds: number[], now: number): Promise<Map<number, PresenceRecord>> {
    if (userIds.length === 0) return new Map();
    const pipeline = this.redis.pipeline();
    for (const userId of userIds) pipeline.zcount(this.userPrefix + userId, `(${now}`, '+inf');
    pipeline.hmget(this.seenKey, ...userIds.map(String));
    const results = (await pipeline.exec()) ?? [];
    const seen = (results[userIds.length]?.[1] ?? []) as (string | null)[];
    return new Map(
      userIds.map((userId, index) => [userId, { online: Number(results[index]?.[1] ?? 0) > 0, lastSeen: seen[index] == null ? null : Number(seen[index]) }]),
    );
  }
}
