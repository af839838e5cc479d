// What happened to messages (and to the groups they are sent in), once committed, for whoever
// follows them (the feed publisher, the outbox's first try, metrics): a typed map of events, in
// the spirit of Immich's EventRepository.
// Handlers run at once, in the order they subscribed, so that events are published in commit
// order; an event's answers are what its handlers resolve to (the first try's status).
import type { Logger } from 'pino';
import type { OutboundMessage, Recorded } from './ports.js';
import type { MessageStatus, MessageView } from './view.js';

export interface MessageStored {
  message: MessageView;
  /** The feed entries of the local members. */
  recorded: Recorded[];
  /** Outbox entries were written with it (to a peer's user, or to other backends of its group). */
  queuedForPeers: boolean;
  /** The message's outbox entry, when it goes to a peer: `claimed` when it may be tried at once. */
  outbound?: { message: OutboundMessage; claimed: boolean; receiverKey: string };
}

export interface MessageChanged {
  message: MessageView;
  recorded: Recorded[];
  /** The change travels to a peer. */
  queued: boolean;
}

export interface MessageRead {
  /** The marker as the feeds show it: to a direct message's sender, or to a group's other members. */
  marker: { with: string; up_to: number; read_at: string } | { group: string; user: string; up_to: number };
  recorded: Recorded[];
  /** The marker travels to this peer, where the sender is. */
  peer?: string;
  /** The marker travels to other backends of its group. */
  queued?: boolean;
}

export interface DeliveryFinished {
  messageId: number;
  status: 'delivered' | 'failed';
  /** The `status` entry of the sender's feed, if the sender is local. */
  recorded: Recorded | undefined;
}

/** A group was created or changed (`group`, to its members), or a member left or was removed (`group_left`, to them). */
export interface GroupChanged {
  type: 'group' | 'group_left';
  /** The event's fields: `{group}` (the group as it is now) or `{id}`. */
  data: Record<string, unknown>;
  recorded: Recorded[];
  /** The change travels to other backends of the group. */
  queued?: boolean;
}

export interface MessageEventMap {
  'message.stored': { event: MessageStored; answer: MessageStatus | undefined };
  'message.changed': { event: MessageChanged; answer: void };
  'message.read': { event: MessageRead; answer: void };
  'message.delivery': { event: DeliveryFinished; answer: void };
  'group.changed': { event: GroupChanged; answer: void };
}

type EventName = keyof MessageEventMap;
type Handler<K extends EventName> = (event: MessageEventMap[K]['event']) => MessageEventMap[K]['answer'] | Promise<MessageEventMap[K]['answer']>;

export class MessageEvents {
  private readonly handlers = new Map<EventName, unknown[]>();

  constructor(private readonly logger: Logger) {}

  on<K extends EventName>(name: K, handler: Handler<K>): void {
    const list = this.handlers.get(name) ?? [];
    list.push(handler);
    this.handlers.set(name, list);
  }

  /** Runs every handler now; resolves with their answers. A handler's failure is logged, not thrown. */
  emit<K extends EventName>(name: K, event: MessageEventMap[K]['event']): Promise<(MessageEventMap[K]['answer'] | undefined)[]> {
    const handlers = (this.handlers.get(name) ?? []) as Handler<K>[];
    return Promise.all(
      handlers.map(async (handler) => {
        try {
          return await handler(event);
        } catch (error) {
          this.logger.error({ err: error, event: name }, 'a message event handler failed');
          return undefined;
        }
      }),
    );
  }
}
