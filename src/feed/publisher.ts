// Publishes what messages' and groups' events recorded in feeds on the bus, with each entry's seq
// and the seq before it for the gateway: it follows `message.stored`, `message.changed`,
// `message.read`, `message.delivery` and `group.changed`, in the order they are emitted (commit
// order). A new message has one seq for all its members: it goes on the bus once, to all of them.
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
    events.on('message.changed', ({ message, recorded }) => {
      for (const entry of recorded) this.send(entry, feedEvent('message_updated', entry.seq, message, undefined));
    });
    events.on('message.read', ({ marker, recorded }) => {
      for (const entry of recorded) this.data(entry, 'read', marker);
    });
    events.on('message.delivery', ({ messageId, status, recorded }) => {
      if (recorded) this.data(recorded, 'status', { id: messageId, status });
    });
    events.on('group.changed', ({ type, data, recorded }) => {
      for (const entry of recorded) this.data(entry, type, data);
    });
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

  /** A recorded entry carrying data (`read`, `status`, `group`, `group_left`). */
  private data(recorded: Recorded, type: string, data: Record<string, unknown>): void {
    this.send(recorded, feedEvent(type, recorded.seq, undefined, data));
  }

  private send(recorded: Recorded, event: RealtimeEvent): void {
    this.bus.publish(recorded.userId, event, { prev: recorded.prev }).catch((error: unknown) => this.failed(error, event));
  }

  private failed(error: unknown, event: RealtimeEvent): void {
    this.logger.warn({ err: error, event: event.type }, 'could not publish a real-time event');
  }
}
