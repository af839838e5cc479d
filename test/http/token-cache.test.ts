// The token cache and the revocation predicate, called directly with a fake clock, a fake
// accounts service and an in-process bus: what is cached, for how long, and what a revocation
// removes.
import { describe, expect, it } from 'vitest';
import type { RequestAuth } from '../../src/http/auth.js';
import { TokenCache } from '../../src/http/token-cache.js';
import { isRevoked } from '../../src/http/token-revocation.js';
import { InProcessEventBus } from '../../src/realtime/bus.js';

describe('isRevoked', () => {
  it('names one token by id, or every token but one', () => {
    expect(isRevoked({ tokenId: 3 }, 3)).toBe(true);
    expect(isRevoked({ tokenId: 3 }, 4)).toBe(false);
    expect(isRevoked({ allExcept: 3 }, 3)).toBe(false);
    expect(isRevoked({ allExcept: 3 }, 4)).toBe(true);
  });
});

/** Tokens `t<user>.<token id>`; counts the lookups that reach it. */
class FakeAccounts {
  lookups = 0;
  readonly valid = new Set<string>();

  async authenticate(token: string): Promise<RequestAuth | undefined> {
    this.lookups += 1;
    if (!this.valid.has(token)) return undefined;
    const [userId, tokenId] = token.slice(1).split('.').map(Number);
    const user = { id: userId, username: `u${userId}`, email: '', passwordHash: '', dateJoined: 0, phoneNumber: null, phoneVerified: false };
    return { user, tokenId, expiresAt: 0 };
  }
}

function setUp(options: { ttlMs?: number; maxEntries?: number } = {}) {
  let now = 1_000_000;
  const accounts = new FakeAccounts();
  const bus = new InProcessEventBus();
  const cache = new TokenCache({ accounts, bus, clock: () => now, ...options });
  return { accounts, bus, cache, advance: (ms: number) => (now += ms) };
}

describe('TokenCache', () => {
  it('answers from the cache for its time to live, then asks again', async () => {
    const { accounts, cache, advance } = setUp({ ttlMs: 1000 });
    accounts.valid.add('t1.1');
    expect((await cache.authenticate('t1.1'))?.tokenId).toBe(1);
    advance(999);
    expect((await cache.authenticate('t1.1'))?.tokenId).toBe(1);
    expect(accounts.lookups).toBe(1);
    advance(2);
    accounts.valid.delete('t1.1');
    expect(await cache.authenticate('t1.1')).toBeUndefined();
    expect(accounts.lookups).toBe(2);
  });

  it('does not keep an unknown token', async () => {
    const { accounts, cache } = setUp();
    expect(await cache.authenticate('t1.1')).toBeUndefined();
    accounts.valid.add('t1.1');
    expect((await cache.authenticate('t1.1'))?.user.id).toBe(1);
  });

  it('forgets at once the tokens a revocation names, and only those', async () => {
    const { accounts, bus, cache } = setUp();
    for (const token of ['t1.1', 't1.2', 't1.3', 't2.4']) {
      accounts.valid.add(token);
      await cache.authenticate(token);
    }
    await bus.publishRevocation(1, { tokenId: 2 });
    accounts.valid.delete('t1.2');
    expect(await cache.authenticate('t1.2')).toBeUndefined();
    expect(accounts.lookups).toBe(5);

    await bus.publishRevocation(1, { allExcept: 3 });
    accounts.valid.delete('t1.1');
    expect(await cache.authenticate('t1.1')).toBeUndefined();
    expect((await cache.authenticate('t1.3'))?.tokenId).toBe(3);
    expect((await cache.authenticate('t2.4'))?.tokenId).toBe(4);
    expect(accounts.lookups).toBe(6);
  });

  it('keeps at most maxEntries tokens, evicting the least recently used', async () => {
    const { accounts, cache } = setUp({ maxEntries: 2 });
    for (const token of ['t1.1', 't2.2', 't3.3']) accounts.valid.add(token);
    await cache.authenticate('t1.1');
    await cache.authenticate('t2.2');
    await cache.authenticate('t1.1');
    await cache.authenticate('t3.3');
    expect(accounts.lookups).toBe(3);
    await cache.authenticate('t1.1');
    await cache.authenticate('t3.3');
    expect(accounts.lookups).toBe(3);
    await cache.authenticate('t2.2');
    expect(accounts.lookups).toBe(4);
  });

  it('still revokes a token cached again after eviction', async () => {
    const { accounts, bus, cache } = setUp({ maxEntries: 1 });
    accounts.valid.add('t1.1');
    accounts.valid.add('t2.2');
    await cache.authenticate('t1.1');
    await cache.authenticate('t2.2');
    await cache.authenticate('t1.1');
    await bus.publishRevocation(1, { tokenId: 1 });
    accounts.valid.delete('t1.1');
    expect(await cache.authenticate('t1.1')).toBeUndefined();
  });

  it('stops listening for revocations once closed', async () => {
    const { accounts, bus, cache } = setUp();
    accounts.valid.add('t1.1');
    await cache.authenticate('t1.1');
    cache.close();
    await bus.publishRevocation(1, { tokenId: 1 });
    expect((await cache.authenticate('t1.1'))?.tokenId).toBe(1);
    expect(accounts.lookups).toBe(1);
  });
});
