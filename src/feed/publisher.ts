// Publishes what messages' and groups' events recorded in feeds on the bus, with each entry's seq
// and the seq before it for the gateway: it follows `message.stored`, `message.changed`,
// `message.read`, `message.delivery` and `group.changed`, in the order they are emitted (commit
// order). Each event goes on the bus once, to everyone it concerns: a new message has one seq
// for all its members; the entries of an edit, a read marker or a group's change carry each
// member's own.
import type { Logger } from 'pino';
import type { MessageEvents } from '../messages/events.js';
import type { Recorded } from '../messages/ports.js';
import type { MessageView } from '../messages/view.js';
import type { EventBus, RealtimeEvent } from '../realtime/bus.js';
import { feedEvent } from './events.js';

export class FeedPublisher {
  constructor(
    private readonly bus: EventBus,
    private readonly logger: Logger,
  ) {}

  /** Subscribes to the events whose feed entries it publishes. */
  follow(events: MessageEvents): void {
    events.on('message.stored', ({ message, recorded }) => {
      this.stored(recorded, message);
      return undefined;
    });
    events.on('message.changed', ({ message, recorded }) => this.toEach(recorded, (seq) => feedEvent('message_updated', seq, message, undefined)));
    events.on('message.read', ({ marker, recorded }) => this.toEach(recorded, (seq) => feedEvent('read', seq, undefined, marker)));
    events.on('message.delivery', ({ messageId, status, recorded }) => {
      if (recorded) this.toEach([recorded], (seq) => feedEvent('status', seq, undefined, { id: messageId, status }));
    });
    events.on('group.changed', ({ type, data, recorded }) => this.toEach(recorded, (seq) => feedEvent(type, seq, undefined, data)));
  }

  /** A new message: every member's entry has the message's seq, so one event serves them all. */
  private stored(recorded: Recorded[], message: MessageView): void {
    const bySeq = new Map<number, Recorded[]>();
    for (const entry of recorded) {
      const entries = bySeq.get(entry.seq);
      if (entries) entries.push(entry);
      else bySeq.set(entry.seq, [entry]);
    }
    for (const [seq, entries] of bySeq) {
      const event = feedEvent('message', seq, message, undefined);
      const deliveries = entries.map(({ userId, prev }) => ({ userId, prev }));
      this.bus.publishToMany(deliveries, event).catch((error: unknown) => this.failed(error, event));
    }
  }

  /** One event, each user's entry with its own seq (the event's own is the first one's). */
  private toEach(recorded: Recorded[], eventOf: (seq: number) => RealtimeEvent): void {
    if (recorded.length === 0) return;
    const event = eventOf(recorded[0]!.seq);
    const deliveries = recorded.map(({ userId, prev, seq }) => ({ userId, prev, seq }));
    this.bus.publishToMany(deliveries, event).catch((error: unknown) => this.failed(error, event));
  }

  private failed(error: unknown, event: RealtimeEvent): void {
    this.logger.warn({ err: error, event: event.type }, 'could not publish a real-time event');
  }
}
