// Typing indicators: `{"type":"typing","to":"bob"}` from alice reaches bob's sessions on any
// instance as `{"type":"typing","from":"alice"}`, only when they have a conversation, and at
// most once per sender and partner every 2 s (counted across instances when Redis is shared).
// An address on another backend is handed to `remote` (federation's typing items).
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import type { RateLimitStore } from '../limits/rate-limiter.js';
import type { EventBus } from './bus.js';

type Partner = { id: number; username: string };

/** What typing needs to know about users and their conversations. */
export interface TypingDirectory {
  /** The folded username an address gives when it names a user of this backend (user, or user@this-backend). */
  localNameKey(address: string): string | undefined;
  /** The user's established conversation partners, by folded username. */
  partnersByName(userId: number): Promise<ReadonlyMap<string, Partner>>;
}

export interface TypingRelayOptions {
  directory: TypingDirectory;
  /** Passes on an indicator to another backend's user (federation's typing items). */
  remote?: (from: Partner, to: string) => void;
  limits: RateLimitStore;
  bus: EventBus;
  logger: Logger;
}

const TYPING_WINDOW_MS = 2000;
// Names are resolved among the sender's partners, loaded once per sender and kept briefly, so a
// flood naming anyone else (distinct unknown names included) costs no database work. A partner
// whose conversation became established within the last PARTNERS_TTL_MS may miss typing until
// the sender's entry expires: acceptable for an indicator.
const SENDERS_KEPT = 10_000;
const PARTNERS_TTL_MS = 10_000;

export class TypingRelay {
  private readonly partners = new LRUCache<number, ReadonlyMap<string, Partner>>({
    max: SENDERS_KEPT,
    ttl: PARTNERS_TTL_MS,
    // Concurrent frames of one sender share a single load; a failed load is not kept.
    fetchMethod: (userId) => this.options.directory.partnersByName(userId),
  });

  constructor(private readonly options: TypingRelayOptions) {}

  /** Passes the indicator on, or drops it silently (unknown or remote name, no conversation, too soon). */
  relay(from: Partner, to: string): void {
    this.pass(from, to).catch((error: unknown) => this.options.logger.warn({ err: error }, 'typing: could not pass an indicator on'));
  }

  private async pass(from: Partner, to: string): Promise<void> {
    const key = this.options.directory.localNameKey(to);
    if (key === undefined) {
      this.options.remote?.(from, to);
      return;
    }
    const partner = (await this.partners.fetch(from.id))?.get(key);
    if (!partner) return;
    const { count } = await this.options.limits.hit(`typing:${from.id}:${partner.id}`, TYPING_WINDOW_MS);
    if (count > 1) return;
    await this.options.bus.publish(partner.id, { type: 'typing', from: from.username });
  }
}
