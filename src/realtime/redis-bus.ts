// The event bus over Redis pub/sub, for several instances sharing users. Every instance
// subscribes to one channel and keeps only the events of users it holds sockets for: one
// SUBSCRIBE per instance instead of one per user, so connects and reconnects cost Redis nothing.
// Events still reach this instance's own sockets directly, so with Redis away real time keeps
// working within an instance; across instances it resumes by itself when Redis is back.
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { TokenRevocation } from '../http/token-revocation.js';
import { InProcessEventBus, type Delivery, type EventOrder, type RealtimeEvent } from './bus.js';

/** What travels on the channel: an event (for one user or several), a revocation, or news that some events were dropped. */
type Envelope =
  | { origin: string; userId: number; event: RealtimeEvent; order?: EventOrder }
  | { origin: string; deliveries: readonly Delivery[]; event: RealtimeEvent }
  | { origin: string; userId: number; revocation: TokenRevocation }
  | { origin: string; gap: true };

export interface RedisEventBusOptions {
  /** The connection used to publish (shared with other commands). */
  publisher: Redis;
  logger: Logger;
  /** One channel per backend (instances of one backend share it). */
  channel: string;
}

export class RedisEventBus extends InProcessEventBus {
  private readonly origin = randomUUID();
  private readonly subscriber: Redis;
  private subscribed = false;
  private closing = false;
  /** Logged once per outage. */
  private degraded = false;
  /** This instance failed to publish: every instance is told once Redis takes messages again. */
  private droppedPublishes = false;

  constructor(private readonly options: RedisEventBusOptions) {
    super();
    // Subscribing is done here on every (re)connection, so recovery is known to be complete.
    this.subscriber = options.publisher.duplicate({ autoResubscribe: false, enableOfflineQueue: false });
    this.subscriber.on('error', (error) => this.options.logger.debug({ err: error }, 'redis subscriber error'));
    this.subscriber.on('ready', () => void this.resubscribe());
    this.subscriber.on('close', () => {
      this.subscribed = false;
      this.degrade('subscriber connection closed');
    });
    this.subscriber.on('messageBuffer', (_channel: Buffer, payload: Buffer) => this.receive(payload));
    options.publisher.on('close', () => this.degrade('publisher connection closed'));
    options.publisher.on('ready', () => void this.announceDroppedPublishes());
  }

  override async publish(userId: number, event: RealtimeEvent, order?: EventOrder): Promise<void> {
    await super.publish(userId, event, order);
    await this.send({ origin: this.origin, userId, event, ...(order ? { order } : {}) });
  }

  override async publishToMany(deliveries: readonly Delivery[], event: RealtimeEvent): Promise<void> {
    if (deliveries.length === 0) return;
    await super.publishToMany(deliveries, event);
    await this.send({ origin: this.origin, deliveries, event });
  }

  override async publishRevocation(userId: number, revocation: TokenRevocation): Promise<void> {
    await super.publishRevocation(userId, revocation);
    await this.send({ origin: this.origin, userId, revocation });
  }

  override async check(): Promise<void> {
    if (!this.subscribed) throw new Error('not subscribed to the redis event channel');
    if (this.options.publisher.status !== 'ready') throw new Error(`redis publisher is ${this.options.publisher.status}`);
    await this.options.publisher.ping();
  }

  override async close(): Promise<void> {
    this.closing = true;
    this.subscriber.disconnect();
    await super.close();
  }

  /** Publishes without ever throwing: a message is already stored when its event is sent. */
  private async send(envelope: Envelope): Promise<boolean> {
    if (this.options.publisher.status === 'ready') {
      try {
        await this.options.publisher.publish(this.options.channel, JSON.stringify(envelope));
        return true;
      } catch (error) {
        this.degrade('publish failed', error);
      }
    } else {
      this.degrade(`redis publisher is ${this.options.publisher.status}`);
    }
    this.droppedPublishes = true;
    return false;
  }

  private receive(payload: Buffer): void {
    let envelope: Envelope;
    try {
      envelope = JSON.parse(payload.toString('utf8')) as Envelope;
    } catch (error) {
      this.options.logger.warn({ err: error }, 'unreadable message on the redis event channel');
      return;
    }
    if (envelope.origin === this.origin) return;
    if ('gap' in envelope) this.emitGap();
    else if ('deliveries' in envelope) this.deliver(envelope.deliveries, envelope.event);
    else if ('event' in envelope) void super.publish(envelope.userId, envelope.event, envelope.order);
    else void super.publishRevocation(envelope.userId, envelope.revocation);
  }

  /**
   * While unsubscribed this instance may have missed events for the sockets it holds: once
   * subscribed again they are told to catch up (at start there are none yet).
   */
  private async resubscribe(): Promise<void> {
    try {
      await this.subscriber.subscribe(this.options.channel);
    } catch (error) {
      this.degrade('subscribe failed', error);
      return;
    }
    this.subscribed = true;
    this.emitGap();
    this.restored();
  }

  private async announceDroppedPublishes(): Promise<void> {
    if (!this.droppedPublishes) return this.restored();
    this.droppedPublishes = false;
    if (await this.send({ origin: this.origin, gap: true })) this.restored();
  }

  private degrade(reason: string, error?: unknown): void {
    if (this.closing || this.degraded) return;
    this.degraded = true;
    this.options.logger.warn({ ...(error ? { err: error } : {}), reason }, 'real time between instances degraded: redis unavailable');
  }

  private restored(): void {
    if (this.closing || !this.degraded || !this.subscribed || this.options.publisher.status !== 'ready') return;
    this.degraded = false;
    this.options.logger.info('real time between instances restored: redis is back');
  }
}
