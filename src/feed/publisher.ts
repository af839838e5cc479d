// Publishes what messages' events recorded in feeds on the bus, with each entry's seq and the seq
// before it for the gateway: it follows `message.stored`, `message.changed`, `message.read` and
// `message.delivery`, in the order they are emitted (commit order).
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
      for (const entry of recorded) this.message(entry, 'message', message);
      return undefined;
    });
    events.on('message.changed', ({ message, recorded }) => {
      for (const entry of recorded) this.message(entry, 'message_updated', message);
    });
    events.on('message.read', ({ marker, recorded }) => {
      for (const entry of recorded) this.data(entry, 'read', marker);
    });
    events.on('message.delivery', ({ messageId, status, recorded }) => {
      if (recorded) this.data(recorded, 'status', { id: messageId, status });
    });
  }

  /** A recorded entry about a message (`message`, `message_updated`). */
  private message(recorded: Recorded, type: 'message' | 'message_updated', message: MessageView): void {
    this.send(recorded.userId, feedEvent(type, recorded.seq, message, undefined), recorded.prev);
  }

  /** A recorded entry carrying data (`read`, `status`). */
  private data(recorded: Recorded, type: 'read' | 'status', data: Record<string, unknown>): void {
    this.send(recorded.userId, feedEvent(type, recorded.seq, undefined, data), recorded.prev);
  }

  private send(userId: number, event: RealtimeEvent, prev: number): void {
    this.bus.publish(userId, event, { prev }).catch((error: unknown) => this.logger.warn({ err: error, event: event.type }, 'could not publish a real-time event'));
  }
}
