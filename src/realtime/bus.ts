// The event bus that carries real-time events to the users they concern, whichever instance
// holds their sockets. In process by default; Redis pub/sub when several instances share users.
import { EventEmitter } from 'node:events';

/** An event as a client receives it on its socket (`{"type": "message", ...}`). */
export interface RealtimeEvent {
  type: string;
  [field: string]: unknown;
}

export type EventListener = (userId: number, event: RealtimeEvent) => void;

export interface EventBus {
  /** Delivers the event to every live connection of the user, on any instance. */
  publish(userId: number, event: RealtimeEvent): Promise<void>;
  subscribe(listener: EventListener): () => void;
  close(): Promise<void>;
}

export class InProcessEventBus implements EventBus {
  private readonly emitter = new EventEmitter();

  constructor() {
    // One listener per gateway and test; the default cap of 10 would only warn.
    this.emitter.setMaxListeners(0);
  }

  async publish(userId: number, event: RealtimeEvent): Promise<void> {
    this.emitter.emit('event', userId, event);
  }

  subscribe(listener: EventListener): () => void {
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }

  async close(): Promise<void> {
    this.emitter.removeAllListeners();
  }
}
