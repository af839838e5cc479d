// The event bus that carries real-time events to the users they concern, whichever instance
// holds their sockets. In process by default; Redis pub/sub when several instances share users.
import { EventEmitter } from 'node:events';
import type { TokenRevocation } from '../http/token-revocation.js';

/** An event as a client receives it on its socket (`{"type": "message", ...}`). */
export interface RealtimeEvent {
  type: string;
  [field: string]: unknown;
}

/**
 * Where a feed event (one with a `seq`) sits in its user's feed: the seq of the user's event
 * before it (0: none). Travels beside the event, so that a gateway receiving events out of
 * order, or missing one, knows to fill the gap from the feed.
 */
export interface EventOrder {
  prev: number;
}

/** One user an event goes to, with where it sits in their feed (a feed event's `prev`). */
export interface Delivery {
  userId: number;
  prev?: number;
}

export type EventListener = (userId: number, event: RealtimeEvent, order?: EventOrder) => void;
/** Hears an event once with everyone it goes to (a group message to a thousand members is one call). */
export type DeliveriesListener = (deliveries: readonly Delivery[], event: RealtimeEvent) => void;
export type RevocationListener = (userId: number, revocation: TokenRevocation) => void;

export interface EventBus {
  /** Delivers the event to every live connection of the user, on any instance. Never rejects. */
  publish(userId: number, event: RealtimeEvent, order?: EventOrder): Promise<void>;
  /** Delivers one event to several users at once (it travels once between instances). Never rejects. */
  publishToMany(deliveries: readonly Delivery[], event: RealtimeEvent): Promise<void>;
  /** Hears every event once per user it goes to. */
  subscribe(listener: EventListener): () => void;
  /** Hears every event once, with all the users it goes to (what the gateway listens with). */
  subscribeDeliveries(listener: DeliveriesListener): () => void;
  /** Tells every instance that some of the user's tokens were revoked. Never rejects. */
  publishRevocation(userId: number, revocation: TokenRevocation): Promise<void>;
  subscribeRevocations(listener: RevocationListener): () => void;
  /**
   * Called when events from other instances may have been missed (the shared channel came
   * back after an outage), so live connections can be told to catch up.
   */
  onGap(listener: () => void): () => void;
  /** Throws when the bus cannot carry events between instances right now (for /readyz). */
  check(): Promise<void>;
  close(): Promise<void>;
}

/** One process: events go straight from publish to the listeners. */
export class InProcessEventBus implements EventBus {
  private readonly emitter = new EventEmitter();

  constructor() {
    // One listener per gateway and test; the default cap of 10 would only warn.
    this.emitter.setMaxListeners(0);
  }

  async publish(userId: number, event: RealtimeEvent, order?: EventOrder): Promise<void> {
    this.deliver([order ? { userId, prev: order.prev } : { userId }], event);
  }

  async publishToMany(deliveries: readonly Delivery[], event: RealtimeEvent): Promise<void> {
    this.deliver(deliveries, event);
  }

  subscribe(listener: EventListener): () => void {
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }

  subscribeDeliveries(listener: DeliveriesListener): () => void {
    this.emitter.on('deliveries', listener);
    return () => this.emitter.off('deliveries', listener);
  }

  /** Hands the event to this instance's listeners: once to each deliveries listener, once per user to the others. */
  protected deliver(deliveries: readonly Delivery[], event: RealtimeEvent): void {
    if (deliveries.length === 0) return;
    this.emitter.emit('deliveries', deliveries, event);
    if (this.emitter.listenerCount('event') === 0) return;
    for (const { userId, prev } of deliveries) this.emitter.emit('event', userId, event, prev === undefined ? undefined : { prev });
  }

  async publishRevocation(userId: number, revocation: TokenRevocation): Promise<void> {
    this.emitter.emit('revocation', userId, revocation);
  }

  subscribeRevocations(listener: RevocationListener): () => void {
    this.emitter.on('revocation', listener);
    return () => this.emitter.off('revocation', listener);
  }

  onGap(listener: () => void): () => void {
    this.emitter.on('gap', listener);
    return () => this.emitter.off('gap', listener);
  }

  /** Tells the gap listeners that events may have been missed (used by the Redis bus). */
  protected emitGap(): void {
    this.emitter.emit('gap');
  }

  async check(): Promise<void> {}

  async close(): Promise<void> {
    this.emitter.removeAllListeners();
  }
}
