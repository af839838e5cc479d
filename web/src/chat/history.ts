// One conversation's messages as the page holds them: server messages in id order, then the
// sends this page has in flight. Pure functions over plain data; ChatStore decides when to call them.
import type { Message, SendAnswer } from '../api.js';
import type { ConversationKey } from './conversation-key.js';

export interface Entry {
  /** Stable render key: the client id of a send from this page, else the message id. */
  key: string;
  clientId: string | null;
  /** The message as the server knows it; id 0 until the server has answered a send. */
  message: Message;
  sending: boolean;
  error: { detail: string; retryable: boolean } | null;
}

export interface History {
  conversation: ConversationKey;
  entries: Entry[];
  /** Cursor of the next older page, null when the oldest message is loaded. */
  next: string | null;
  state: 'loading' | 'loaded' | 'error';
  error: string | null;
}

export function emptyHistory(conversation: ConversationKey): History {
  return { conversation, entries: [], next: null, state: 'loading', error: null };
}

export function newClientId(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  // randomUUID exists only in secure contexts; a plain-http LAN address still gets a v4 UUID.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * Adds a message or replaces the one with its id, so the same message arriving by several
 * paths (history, WebSocket, catch-up) shows once, and a later version of it replaces it.
 */
export function upsertMessage(history: History, message: Message, mine: boolean): void {
  const existing = history.entries.find((entry) => entry.message.id === message.id);
  if (existing) {
    existing.message = message;
    return;
  }
  if (mine) {
    // The WebSocket can bring our own message before the send's answer: take it for the
    // send in flight with the same text, when there is exactly one.
    const waiting = history.entries.filter((entry) => entry.sending && entry.message.id === 0 && entry.message.message === message.message);
    if (waiting.length === 1) {
      waiting[0]!.message = message;
      return;
    }
  }
  history.entries.push({ key: `m${message.id}`, clientId: null, message, sending: false, error: null });
  // Server messages in id order (ids only grow on this backend); sends not yet answered last.
  history.entries.sort((a, b) => (a.message.id || Infinity) - (b.message.id || Infinity));
}

/** A send from this page, shown at once: id 0 until the server answers. */
export function pendingSend(me: string, to: ConversationKey, text: string): Entry {
  const clientId = newClientId();
  const [receiver, group] = to.kind === 'direct' ? [to.with, null] : [null, to.id];
  const message: Message = { id: 0, sender: me, receiver, group, message: text, timestamp: new Date().toISOString(), status: 'delivered', read_at: null, edited_at: null, deleted: false };
  return { key: clientId, clientId, message, sending: true, error: null };
}

/**
 * Takes the server's answer to a send. Its echo on the WebSocket may have come first and been
 * filed as a message of its own: that one goes, and what it knew (a later status) is kept.
 */
export function settleSend(history: History | undefined, entry: Entry, answer: SendAnswer): void {
  const echo = history?.entries.find((other) => other !== entry && other.message.id === answer.id);
  if (history && echo) history.entries.splice(history.entries.indexOf(echo), 1);
  entry.message = { ...entry.message, ...echo?.message, id: answer.id, status: echo?.message.status ?? answer.status, timestamp: answer.timestamp };
  entry.sending = false;
}
