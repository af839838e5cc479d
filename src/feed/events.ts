// The one shape of a feed event, built the same way for the WebSocket and for GET /accounts/events/.
import type { RealtimeEvent } from '../realtime/bus.js';
import type { FeedEntryType } from '../messages/ports.js';
import type { MessageView } from '../messages/view.js';

/** An event of the feed: what the WebSocket sends, with its `seq`. */
export type FeedEvent = RealtimeEvent & { seq: number };

/** `{"type","seq","message"}` for message events, `{"type","seq",...data}` for the others. */
export function feedEvent(type: FeedEntryType | string, seq: number, message: MessageView | undefined, data: Record<string, unknown> | undefined): FeedEvent {
  return message ? { type, seq, message } : { type, seq, ...data };
}
