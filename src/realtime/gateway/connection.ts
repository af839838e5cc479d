// One socket and its state: who it is for, its feed stream, its timers, its frame budget and
// its backpressure. It is the StreamSink its FeedStream writes to.
import type { Logger } from 'pino';
import { WebSocket, type RawData } from 'ws';
import type { FeedStream, StreamSink, TextFrame } from '../feed-stream.js';
import { CloseCode, type GatewayLimits } from './protocol.js';

/** What every connection shares (one object for all: an idle connection should cost little memory). */
export interface ConnectionOptions {
  limits: Pick<GatewayLimits, 'maxBufferedBytes' | 'framesPerSecond' | 'frameBurst'>;
  clock: () => number;
  logger: Logger;
  /** Told when a connection is given up without waiting for its close (a slow reader, a dead peer). */
  dropped: (connection: Connection) => void;
}

interface HeldFrame {
  data: RawData;
  isBinary: boolean;
}

// A slow consumer's close frame waits behind its backlog; the socket is cut soon after anyway.
const SLOW_CONSUMER_CLOSE_GRACE_MS = 1000;
// A client may pipeline a few frames behind its auth frame; more is not a client we know.
const MAX_FRAMES_WAITING_FOR_AUTH = 16;

export class Connection implements StreamSink {
  userId = 0;
  username = '';
  tokenId = 0;
  /** The user's feed as this socket has seen it (set once authenticated). */
  stream: FeedStream | undefined;
  /** Whether the peer showed life (a frame, a pong) since the last ping. */
  alive = true;
  authTimer: NodeJS.Timeout | undefined;
  /** Fires when the token may have expired (its expiry may have slid since: checked again then). */
  expiryTimer: NodeJS.Timeout | undefined;
  /** The frame budget: a token bucket, refilled at framesPerSecond up to frameBurst. */
  private frameTokens: number;
  private refilledAt: number;
  /** Frames received while the token is being checked; undefined when no check is running. */
  private held: HeldFrame[] | undefined;

  constructor(
    readonly socket: WebSocket,
    private readonly options: ConnectionOptions,
  ) {
    this.frameTokens = options.limits.frameBurst;
    this.refilledAt = options.clock();
  }

  get authenticated(): boolean {
    return this.userId !== 0;
  }

  get open(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  get holding(): boolean {
    return this.held !== undefined;
  }

  close(code: number, reason: string): void {
    if (this.socket.readyState === WebSocket.CONNECTING || this.socket.readyState === WebSocket.OPEN) this.socket.close(code, reason);
  }

  /** Takes one frame from the socket's budget; false when it is spent. */
  spendFrame(): boolean {
    const now = this.options.clock();
    const { framesPerSecond, frameBurst } = this.options.limits;
    this.frameTokens = Math.min(frameBurst, this.frameTokens + ((now - this.refilledAt) * framesPerSecond) / 1000);
    this.refilledAt = now;
    if (this.frameTokens < 1) return false;
    this.frameTokens -= 1;
    return true;
  }

  /** From now on frames are held (while the token is checked and the replay sent). */
  hold(): void {
    this.held = [];
  }

  /** Holds one frame; false when too many already wait. */
  keep(data: RawData, isBinary: boolean): boolean {
    if (!this.held || this.held.length >= MAX_FRAMES_WAITING_FOR_AUTH) return false;
    this.held.push({ data, isBinary });
    return true;
  }

  /** Stops holding, and gives back the frames held, oldest first. */
  release(): HeldFrame[] {
    const held = this.held ?? [];
    this.held = undefined;
    return held;
  }

  /** Sends a live frame; a client whose backlog would pass the limit is disconnected instead. */
  send(data: TextFrame): void {
    const { socket } = this;
    if (socket.readyState !== WebSocket.OPEN) return;
    if (socket.bufferedAmount + Buffer.byteLength(data) > this.options.limits.maxBufferedBytes) {
      this.options.logger.info({ userId: this.userId, buffered: socket.bufferedAmount }, 'websocket client too slow; disconnecting');
      this.close(CloseCode.tryAgainLater, 'too slow: reconnect and catch up');
      setTimeout(() => socket.terminate(), SLOW_CONSUMER_CLOSE_GRACE_MS).unref();
      this.options.dropped(this);
      return;
    }
    // An encoded frame is text too: ws would send a Buffer as binary.
    socket.send(data, { binary: false });
  }

  /** A replay may be far larger than the live buffer allows: it goes at the pace the client reads. */
  sendPaced(data: string): Promise<void> {
    const { socket } = this;
    return new Promise<void>((resolve) => {
      if (socket.readyState !== WebSocket.OPEN) return resolve();
      if (socket.bufferedAmount < this.options.limits.maxBufferedBytes / 2) {
        socket.send(data);
        return resolve();
      }
      socket.send(data, () => resolve());
    });
  }

  /** Pings the peer, or cuts it when it did not answer the previous ping. */
  heartbeat(): void {
    if (!this.alive) {
      this.socket.terminate();
      this.options.dropped(this);
      return;
    }
    this.alive = false;
    if (this.socket.readyState === WebSocket.OPEN) this.socket.ping();
  }

  stopTimers(): void {
    clearTimeout(this.authTimer);
    this.authTimer = undefined;
    clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
  }
}
