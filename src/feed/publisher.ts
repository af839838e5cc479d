// Publishes recorded events on the bus with their seq, and the seq before them for the gateway.
import type { Logger } from 'pino';
import type { EventBus, RealtimeEvent } from '../realtime/bus.js';
import type { Recorded } from './event-log.js';
import { feedEvent } from './events.js';
import type { MessageView } from '../messages/service.js';

export class FeedPublisher {
  constructor(
    private readonly bus: EventBus,
    private readonly logger: Logger,
  ) {}

  /** A recorded event about a message (`message`, `message_updated`). */
  message(recorded: Recorded, type: 'message' | 'message_updated', message: MessageView): void {
    this.send(recorded.userId, feedEvent(type, recorded.seq, message, undefined), recorded.prev);
  }

  /** A recorded event carrying data (`read`, `status`). */
  data(recorded: Recorded, type: 'read' | 'status', data: Record<string, unknown>): void {
    this.send(recorded.userId, feedEvent(type, recorded.seq, undefined, data), recorded.prev);
  }

  private send(userId: number, event: RealtimeEvent, prev: number): void {
    this.bus.publish(userId, event, { prev }).catch((error: unknown) => this.logger.warn({ err: error, event: event.type }, 'could not publish a real-time event'));
  }
}
