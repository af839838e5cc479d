// Typing indicators: `{"type":"typing","to":"bob"}` from alice reaches bob's sessions on any
// instance as `{"type":"typing","from":"alice"}`, only when they have a conversation, and at
// most once per sender and partner every 2 s (counted across instances when Redis is shared).
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import type { RateLimitStore } from '../limits/rate-limiter.js';
import type { EventBus } from './bus.js';

/** What typing needs to know about users and their conversations. */
export interface TypingDirectory {
  /** The local user an address names (user, or user@this-backend). */
  findLocal(address: string): Promise<{ id: number; username: string } | undefined>;
  haveConversation(userId: number, partnerId: number): Promise<boolean>;
}

export interface TypingRelayOptions {
  directory: TypingDirectory;
  limits: RateLimitStore;
  bus: EventBus;
  logger: Logger;
}

const TYPING_WINDOW_MS = 2000;
// A flood of frames naming one user (who may not exist) costs one lookup, even while it runs;
// kept briefly, so that a user who registers meanwhile is soon reachable.
const LOOKUPS_KEPT = 1000;
const LOOKUP_TTL_MS = 10_000;

type LocalUser = { id: number; username: string } | undefined;

export class TypingRelay {
  private readonly lookups = new LRUCache<string, Promise<LocalUser>>({ max: LOOKUPS_KEPT, ttl: LOOKUP_TTL_MS });

  constructor(private readonly options: TypingRelayOptions) {}

  /** Passes the indicator on, or drops it silently (unknown or remote name, no conversation, too soon). */
  relay(from: { id: number; username: string }, to: string): void {
    this.pass(from, to).catch((error: unknown) => this.options.logger.warn({ err: error }, 'typing: could not pass an indicator on'));
  }

  private async pass(from: { id: number; username: string }, to: string): Promise<void> {
    const partner = await this.findLocal(to);
    if (!partner || partner.id === from.id) return;
    const { count } = await this.options.limits.hit(`typing:${from.id}:${partner.id}`, TYPING_WINDOW_MS);
    if (count > 1) return;
    if (!(await this.options.directory.haveConversation(from.id, partner.id))) return;
    await this.options.bus.publish(partner.id, { type: 'typing', from: from.username });
  }

  private findLocal(address: string): Promise<LocalUser> {
    let lookup = this.lookups.get(address);
    if (!lookup) {
      lookup = this.options.directory.findLocal(address);
      this.lookups.set(address, lookup);
      // A failed lookup is not an answer: the next frame asks again.
      lookup.catch(() => this.lookups.delete(address));
    }
    return lookup;
  }
}
