// Typing indicators: `{"type":"typing","to":"bob"}` from alice reaches bob's sessions on any
// instance as `{"type":"typing","from":"alice"}`, only when they have a conversation, and
// `{"type":"typing","group":"<id>"}` reaches the group's other members as
// `{"type":"typing","from":"alice","group":"<id>"}`; at most once per sender and partner (or
// group) every 2 s, counted across instances when Redis is shared. An address on another backend
// is handed to `remote`, and a group's indicator also to `remoteGroup` (federation's typing items).
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import type { RateLimitStore } from '../limits/rate-limiter.js';
import type { EventBus } from './bus.js';
import type { TypingTarget } from './gateway/registry.js';

type Partner = { id: number; username: string };

/** What typing needs to know about users and their conversations. */
export interface TypingDirectory {
  /** The folded username an address gives when it names a user of this backend (user, or user@this-backend). */
  localNameKey(address: string): string | undefined;
  /** The user's established conversation partners, by folded username. */
  partnersByName(userId: number): Promise<ReadonlyMap<string, Partner>>;
  /** The ids of the groups the user is a member of. */
  groupIdsOf(userId: number): Promise<ReadonlySet<string>>;
  /** The group's local members now (none when there is no such group). */
  groupMembers(groupId: string): Promise<Partner[]>;
}

export interface TypingRelayOptions {
  directory: TypingDirectory;
  /** Passes on an indicator to another backend's user (federation's typing items). */
  remote?: (from: Partner, to: string) => void;
  /** Passes on a member's indicator to the group's other backends (federation's typing items). */
  remoteGroup?: (from: Partner, group: string) => void;
  limits: RateLimitStore;
  bus: EventBus;
  logger: Logger;
}

const TYPING_WINDOW_MS = 2000;
// Names are resolved among the sender's partners (and group ids among the sender's groups),
// loaded once per sender and kept briefly, so a flood naming anyone (or any group) else costs no
// database work. A partner whose conversation became established, or a group joined, within the
// last PARTNERS_TTL_MS may miss typing until the sender's entry expires: acceptable for an
// indicator. A group's receivers are read when an indicator passes, so one removed gets none.
const SENDERS_KEPT = 10_000;
const PARTNERS_TTL_MS = 10_000;

export class TypingRelay {
  private readonly partners = new LRUCache<number, ReadonlyMap<string, Partner>>({
    max: SENDERS_KEPT,
    ttl: PARTNERS_TTL_MS,
    // Concurrent frames of one sender share a single load; a failed load is not kept.
    fetchMethod: (userId) => this.options.directory.partnersByName(userId),
  });
  private readonly groups = new LRUCache<number, ReadonlySet<string>>({
    max: SENDERS_KEPT,
    ttl: PARTNERS_TTL_MS,
    fetchMethod: (userId) => this.options.directory.groupIdsOf(userId),
  });

  constructor(private readonly options: TypingRelayOptions) {}

  /** Passes the indicator on, or drops it silently (unknown or remote name, no conversation, not a member, too soon). */
  relay(from: Partner, target: TypingTarget): void {
    const passing = 'group' in target ? this.passToGroup(from, target.group.toLowerCase()) : this.pass(from, target.to);
    passing.catch((error: unknown) => this.options.logger.warn({ err: error }, 'typing: could not pass an indicator on'));
  }

  private async pass(from: Partner, to: string): Promise<void> {
    const key = this.options.directory.localNameKey(to);
    if (key === undefined) {
      this.options.remote?.(from, to);
      return;
    }
    const partner = (await this.partners.fetch(from.id))?.get(key);
    if (!partner) return;
    if (!(await this.firstInWindow(`typing:${from.id}:${partner.id}`))) return;
    await this.options.bus.publish(partner.id, { type: 'typing', from: from.username });
  }

  private async passToGroup(from: Partner, group: string): Promise<void> {
    if (!(await this.groups.fetch(from.id))?.has(group)) return;
    if (!(await this.firstInWindow(`typing:${from.id}:g:${group}`))) return;
    const members = await this.options.directory.groupMembers(group);
    if (!members.some((member) => member.id === from.id)) return;
    const others = members.filter((member) => member.id !== from.id).map((member) => ({ userId: member.id }));
    await this.options.bus.publishToMany(others, { type: 'typing', from: from.username, group });
    this.options.remoteGroup?.(from, group);
  }

  private async firstInWindow(key: string): Promise<boolean> {
    const { count } = await this.options.limits.hit(key, TYPING_WINDOW_MS);
    return count === 1;
  }
}
