// A token check for the hot routes (sending and reading messages): a token's user is kept for
// a second, so a client's burst of requests costs one lookup. A revocation (logout, password
// change) takes effect at once on this instance and, through the event bus, on the others; the
// second bounds what a revocation message lost between instances can cost. Only the user's id
// and name may be read from it: other fields can be a second old.
import type { AccountsService, AuthenticatedUser, TokenRevocation } from '../accounts/service.js';
import type { EventBus } from '../realtime/bus.js';

export interface TokenCacheOptions {
  accounts: Pick<AccountsService, 'authenticate'>;
  bus: EventBus;
  clock: () => number;
  ttlMs?: number;
  maxEntries?: number;
}

interface Entry {
  auth: AuthenticatedUser;
  expiresAt: number;
}

export class TokenCache {
  private readonly entries = new Map<string, Entry>();
  private readonly tokensOf = new Map<number, Set<string>>();
  private readonly accounts: Pick<AccountsService, 'authenticate'>;
  private readonly clock: () => number;
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  readonly close: () => void;

  constructor(options: TokenCacheOptions) {
    this.accounts = options.accounts;
    this.clock = options.clock;
    this.ttlMs = options.ttlMs ?? 1000;
    this.maxEntries = options.maxEntries ?? 100_000;
    this.close = options.bus.subscribeRevocations((userId, revocation) => this.revoke(userId, revocation));
  }

  async authenticate(token: string): Promise<AuthenticatedUser | undefined> {
    const now = this.clock();
    const cached = this.entries.get(token);
    if (cached && cached.expiresAt > now) return cached.auth;
    const auth = await this.accounts.authenticate(token);
    if (!auth) {
      this.forget(token);
      return undefined;
    }
    if (this.entries.size >= this.maxEntries) this.clear();
    this.entries.set(token, { auth, expiresAt: now + this.ttlMs });
    let tokens = this.tokensOf.get(auth.user.id);
    if (!tokens) this.tokensOf.set(auth.user.id, (tokens = new Set()));
    tokens.add(token);
    return auth;
  }

  private revoke(userId: number, revocation: TokenRevocation): void {
    const tokens = this.tokensOf.get(userId);
    if (!tokens) return;
    for (const token of tokens) {
      const tokenId = this.entries.get(token)?.auth.tokenId;
      const revoked = 'tokenId' in revocation ? tokenId === revocation.tokenId : tokenId !== revocation.allExcept;
      if (revoked || tokenId === undefined) this.forget(token);
    }
  }

  private forget(token: string): void {
    const entry = this.entries.get(token);
    this.entries.delete(token);
    if (!entry) return;
    const tokens = this.tokensOf.get(entry.auth.user.id);
    tokens?.delete(token);
    if (tokens?.size === 0) this.tokensOf.delete(entry.auth.user.id);
  }

  private clear(): void {
    this.entries.clear();
    this.tokensOf.clear();
  }
}
