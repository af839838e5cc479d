// One conversation's messages as the page holds them: server messages in id order, then the
// sends this page has in flight. Pure functions over plain data; ChatStore decides when to call them.
import type { Message } from './api.js';

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
  entries: Entry[];
  /** Cursor of the next older page, null when the oldest message is loaded. */
  next: string | null;
  state: 'loading' | 'loaded' | 'error';
  error: string | null;
}

/** Conversations are keyed ignoring case, as usernames are unique ignoring case. */
export function keyOf(address: string): string {
  return address.toLowerCase();
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
