// Presence: a user is online while they have a socket open on any instance, and offline once
// the last one has been closed for PRESENCE_GRACE (so a reconnect does not flicker). Changes go
// to the user's conversation partners and the members of their groups as `presence` events;
// GET /accounts/presence/ answers only for them.
import type { Logger } from 'pino';
import type { EventBus } from './bus.js';
import type { PresenceStore } from './presence-store.js';

export interface PresenceView {
  status: 'online' | 'offline';
  last_seen: string | null;
}

/** What presence needs to know about users and their conversations. */
export interface PresenceDirectory {
  /** Local users who have a conversation with the user. */
  partnersOf(userId: number): Promise<number[]>;
  /** Which of these local users (by name) are the user's conversation partners. */
  partnersAmong(userId: number, names: string[]): Promise<{ id: number; username: string }[]>;
  usernameOf(userId: number): Promise<string | undefined>;
}

export interface PresenceServiceOptions {
  store: PresenceStore;
  directory: PresenceDirectory;
  bus: EventBus;
  graceMs: number;
  logger: Logger;
  clock?: () => number;
}

export class PresenceService {
  private readonly clock: () => number;
  /** Users with a socket on this instance. */
  private readonly here = new Set<number>();
  private timer: NodeJS.Timeout | undefined;
  private lastTouch = 0;
  private ticking: Promise<void> | undefined;

  constructor(private readonly options: PresenceServiceOptions) {
    this.clock = options.clock ?? Date.now;
  }

  /** Sweeps often enough that offline shows soon after the grace; entries are pushed every third of it. */
  start(): void {
    const interval = Math.max(25, Math.min(1000, Math.floor(this.options.graceMs / 4)));
    this.timer = setInterval(() => {
      this.ticking ??= this.tick().finally(() => (this.ticking = undefined));
    }, interval);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.ticking;
  }

  opened(user: { id: number; username: string }): void {
    this.here.add(user.id);
    const now = this.clock();
    this.options.store.connect(user.id, now + this.options.graceMs, now).then(
      (cameOnline) => {
        if (cameOnline) void this.announce(user.id, user.username, { status: 'online', last_seen: null });
      },
      (error: unknown) => this.options.logger.warn({ err: error }, 'presence: could not record a connection'),
    );
  }

  closed(user: { id: number; username: string }): void {
    this.here.delete(user.id);
    this.options.store.touch([user.id], this.clock() + this.options.graceMs).catch((error: unknown) => this.options.logger.warn({ err: error }, 'presence: could not record a disconnection'));
  }

  /** The presence of the named users who are the caller's conversation partners (others are left out). */
  async lookup(userId: number, names: string[]): Promise<Record<string, PresenceView>> {
    const partners = await this.options.directory.partnersAmong(userId, names);
    const records = await this.options.store.lookup(
      partners.map((partner) => partner.id),
      this.clock(),
    );
    // Keys are user names, and `__proto__` is one: entries become own properties, never the prototype.
    return Object.fromEntries(
      partners.map((partner): [string, PresenceView] => {
        const record = records.get(partner.id);
        return [
          partner.username,
          record?.online ? { status: 'online', last_seen: null } : { status: 'offline', last_seen: record?.lastSeen == null ? null : new Date(record.lastSeen).toISOString() },
        ];
      }),
    );
  }

  private async tick(): Promise<void> {
    const now = this.clock();
    try {
      if (now - this.lastTouch >= this.options.graceMs / 3) {
        this.lastTouch = now;
        await this.options.store.touch([...this.here], now + this.options.graceMs);
      }
      for (const { userId, lastSeen } of await this.options.store.sweep(now, this.options.graceMs)) {
        const username = await this.options.directory.usernameOf(userId);
        if (username) await this.announce(userId, username, { status: 'offline', last_seen: new Date(lastSeen).toISOString() });
      }
    } catch (error) {
      this.options.logger.warn({ err: error }, 'presence: sweeping failed');
    }
  }

  private async announce(userId: number, username: string, view: PresenceView): Promise<void> {
    try {
      const partners = await this.options.directory.partnersOf(userId);
      await this.options.bus.publishToMany(
        partners.map((partner) => ({ userId: partner })),
        { type: 'presence', user: username, ...view },
      );
    } catch (error) {
      this.options.logger.warn({ err: error }, 'presence: could not tell partners');
    }
  }
}
