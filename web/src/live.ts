// The WebSocket to /ws: first-frame auth, a ping to learn that the server has taken us on,
// reconnection with capped exponential backoff, and a state the page can show. It keeps the
// last feed `seq` it handled and asks the server to replay what came after it on reconnecting.
import type { Group, Message } from './api.js';
import { mapKey, type ConversationKey } from './chat/conversation-key.js';

export type LiveEvent =
  | { type: 'message'; seq?: number; message: Message }
  | { type: 'message_updated'; seq?: number; message: Message }
  | { type: 'read'; seq?: number; with: string; up_to: number; read_at: string }
  | { type: 'read'; seq?: number; group: string; user: string; up_to: number }
  | { type: 'status'; seq?: number; id: number; status: Message['status'] }
  | { type: 'typing'; from: string; group?: string }
  | { type: 'presence'; user: string; status: 'online' | 'offline'; last_seen: string | null }
  | { type: 'group'; seq?: number; group: Group }
  | { type: 'group_left'; seq?: number; id: string };

/** `connecting`: the first attempt; `online`: authenticated and subscribed; `reconnecting`: lost, retrying. */
export type LiveState = 'connecting' | 'online' | 'reconnecting';

export interface LiveHandlers {
  onEvent(event: LiveEvent): void;
  onState(state: LiveState): void;
  /**
   * After every confirmed (re)connection: the moment to catch up on what may have been missed,
   * unless `replayed` (the server has just sent everything after the last seq handled).
   */
  onConnected(first: boolean, replayed: boolean): void;
  /** The server no longer keeps what was missed: reload the conversations and histories. */
  onGone(): void;
  /** The server refused the token: the session is over. */
  onRejected(): void;
}

// The gateway's close codes (src/realtime/gateway.ts).
const UNAUTHENTICATED = 4401;
const TOO_MANY_CONNECTIONS = 4429;

// The server passes on one typing indicator per conversation every 2 s; sending more is waste.
const TYPING_EVERY_MS = 2000;

const FIRST_RETRY_MS = 1000;
const MAX_RETRY_MS = 15_000;
const PING_EVERY_MS = 25_000;
const PONG_WITHIN_MS = 10_000;

export class LiveConnection {
  private socket: WebSocket | null = null;
  private attempt = 0;
  private confirmedOnce = false;
  private retryTimer: number | undefined;
  private pingTimer: number | undefined;
  private pongTimer: number | undefined;
  private stopped = false;
  private state: LiveState = 'connecting';
  /** The last feed event handled; 0 until one has come. */
  private lastSeq = 0;
  private readonly typingSent = new Map<string, number>();

  constructor(
    private readonly url: string,
    private readonly token: string,
    private readonly handlers: LiveHandlers,
    /** Asked after an auth refusal: is the token still good (a refusal can also be a restart race)? */
    private readonly tokenStillValid: () => Promise<boolean>,
  ) {}

  start(): void {
    window.addEventListener('online', this.retryNow);
    document.addEventListener('visibilitychange', this.onVisibility);
    this.open();
  }

  stop(): void {
    this.stopped = true;
    window.removeEventListener('online', this.retryNow);
    document.removeEventListener('visibilitychange', this.onVisibility);
    this.clearTimers();
    this.socket?.close(1000, 'bye');
    this.socket = null;
  }

  /** Skips the wait before the next attempt (the network came back, or the person asked). */
  readonly retryNow = (): void => {
    if (this.stopped || this.state === 'online' || this.retryTimer === undefined) return;
    window.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.open();
  };

  /** Tells the conversation that we are typing, at most every 2 s. */
  typing(conversation: ConversationKey): void {
    const key = mapKey(conversation);
    const now = Date.now();
    if (this.state !== 'online' || now - (this.typingSent.get(key) ?? 0) < TYPING_EVERY_MS) return;
    this.typingSent.set(key, now);
    // A partner is named by `to`, a group by `group` (spec/groups.md: a username may look like a uuid).
    const target = conversation.kind === 'direct' ? { to: conversation.with } : { group: conversation.id };
    this.socket?.send(JSON.stringify({ type: 'typing', ...target }));
  }

  private readonly onVisibility = (): void => {
    if (document.visibilityState === 'visible') this.retryNow();
  };

  private open(): void {
    const socket = new WebSocket(this.url);
    this.socket = socket;
    let confirmed = false;
    const replaying = this.lastSeq > 0;
    socket.onopen = () => {
      socket.send(JSON.stringify({ type: 'auth', token: this.token, ...(replaying ? { after: this.lastSeq } : {}) }));
      // The gateway answers frames sent behind the auth frame only once the socket is
      // authenticated and subscribed, so the first pong means no event can be missed from here on.
      this.ping();
    };
    socket.onmessage = (frame) => {
      const event = parse(frame.data);
      if (!event) return;
      if (event.type === 'pong') {
        window.clearTimeout(this.pongTimer);
        this.pongTimer = undefined;
        if (!confirmed) {
          confirmed = true;
          this.attempt = 0;
          this.setState('online');
          this.pingTimer = window.setInterval(() => this.ping(), PING_EVERY_MS);
          this.handlers.onConnected(!this.confirmedOnce, replaying);
          this.confirmedOnce = true;
        }
        return;
      }
      const { seq } = event as { seq?: unknown };
      if (event.type === 'error') {
        // Gone: what came after our seq was pruned; the socket closes, we reload and go on from here.
        if ((event as { code?: unknown }).code === 'gone' && typeof seq === 'number') {
          this.lastSeq = seq;
          this.handlers.onGone();
        }
        return;
      }
      if (typeof seq === 'number') {
        if (seq <= this.lastSeq) return;
        this.lastSeq = seq;
      }
      this.handlers.onEvent(event as LiveEvent);
    };
    socket.onclose = (close) => this.lost(socket, close.code);
  }

  private lost(socket: WebSocket, code: number): void {
    if (this.socket !== socket) return;
    this.socket = null;
    this.clearTimers();
    if (this.stopped) return;
    if (code === UNAUTHENTICATED) {
      void this.tokenStillValid().then((valid) => (valid ? this.scheduleRetry() : this.handlers.onRejected()));
      return;
    }
    this.scheduleRetry(code === TOO_MANY_CONNECTIONS ? MAX_RETRY_MS : undefined);
  }

  private ping(): void {
    const socket = this.socket;
    if (socket?.readyState !== WebSocket.OPEN) return;
    socket.send('{"type":"ping"}');
    if (this.pongTimer === undefined) {
      // No answer in time: the connection is dead even if the browser has not noticed yet,
      // and a close handshake over a dead link could take minutes, so give up on it now.
      this.pongTimer = window.setTimeout(() => {
        socket.close();
        this.lost(socket, 1006);
      }, PONG_WITHIN_MS);
    }
  }

  private scheduleRetry(delay?: number): void {
    if (this.stopped) return;
    if (this.attempt > 0 || this.confirmedOnce) this.setState('reconnecting');
    const base = Math.min(FIRST_RETRY_MS * 2 ** this.attempt, MAX_RETRY_MS);
    this.attempt += 1;
    // Jitter spreads the reconnections of many clients after a restart.
    const wait = delay ?? Math.round(base * (0.8 + Math.random() * 0.4));
    this.retryTimer = window.setTimeout(() => {
      this.retryTimer = undefined;
      this.open();
    }, wait);
  }

  private setState(state: LiveState): void {
    if (state === this.state) return;
    this.state = state;
    this.handlers.onState(state);
  }

  private clearTimers(): void {
    window.clearTimeout(this.retryTimer);
    window.clearInterval(this.pingTimer);
    window.clearTimeout(this.pongTimer);
    this.retryTimer = this.pingTimer = this.pongTimer = undefined;
  }
}

function parse(data: unknown): { type: string } | null {
  if (typeof data !== 'string') return null;
  try {
    const value: unknown = JSON.parse(data);
    return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string' ? (value as { type: string }) : null;
  } catch {
    return null;
  }
}

export function liveUrl(location: Location): string {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws`;
}
