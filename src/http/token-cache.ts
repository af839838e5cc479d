// A token check for the hot routes (sending and reading messages): a token's session is kept
// for a second, so a client's burst of requests costs one lookup. A revocation (logout, password
// change) takes effect at once on this instance and, through the event bus, on the others; the
// second bounds what a revocation message lost between instances can cost. Only the user's id
// and name may be read from it: other fields can be a second old.
import { LRUCache } from 'lru-cache';
import type { RequestAuth, TokenAuthenticator } from './auth.js';
import { isRevoked, type TokenRevocation } from './token-revocation.js';

export interface TokenCacheOptions {
  accounts: TokenAuthenticator;
  /** Where revocations arrive from (the event bus). */
  bus: { subscribeRevocations(listener: (userId: number, revocation: TokenRevocation) => void): () => void };
  clock: () => number;
  ttlMs?: number;
  maxEntries?: number;
}

export class TokenCache implements TokenAuthenticator {
  private readonly entries: LRUCache<string, RequestAuth>;
  /** The cached tokens of each user, so that a revocation finds them; kept in step by `dispose`. */
  private readonly tokensOf = new Map<number, Set<string>>();
  readonly close: () => void;

  constructor(private readonly options: TokenCacheOptions) {
    this.entries = new LRUCache<string, RequestAuth>({
      max: options.maxEntries ?? 100_000,
      ttl: options.ttlMs ?? 1000,
      // Ages are read on the app's clock, every time (no 1 ms reuse of a reading).
      perf: { now: options.clock },
      ttlResolution: 0,
      dispose: (auth, token) => this.untrack(auth.user.id, token),
    });
    this.close = options.bus.subscribeRevocations((userId, revocation) => this.revoke(userId, revocation));
  }

  async authenticate(token: string): Promise<RequestAuth | undefined> {
    const cached = this.entries.get(token);
    if (cached) return cached;
    const auth = await this.options.accounts.authenticate(token);
    if (!auth) {
      this.entries.delete(token);
      return undefined;
    }
    this.entries.set(token, auth);
    let tokens = this.tokensOf.get(auth.user.id);
    if (!tokens) this.tokensOf.set(auth.user.id, (tokens = new Set()));
    tokens.add(token);
    return auth;
  }

  private revoke(userId: number, revocation: TokenRevocation): void {
    for (const token of [...(this.tokensOf.get(userId) ?? [])]) {
      const auth = this.entries.peek(token, { allowStale: true });
      if (auth && isRevoked(revocation, auth.tokenId)) this.entries.delete(token);
    }
  }

  private untrack(userId: number, token: string): void {
    const tokens = this.tokensOf.get(userId);
    tokens?.delete(token);
    if (tokens?.size === 0) this.tokensOf.delete(userId);
  }
}
