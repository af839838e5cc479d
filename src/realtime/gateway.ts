// The WebSocket gateway at /ws: authenticates each socket, keeps the open ones per user, and
// writes to them the events the bus carries. Slow readers, dead peers, revoked tokens and
// shutdown all end in a close code a client can act on.
import websocket from '@fastify/websocket';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { WebSocket, type RawData } from 'ws';
import type { AccountsService, AuthenticatedUser, TokenRevocation } from '../accounts/service.js';
import { Gone, HttpError } from '../http/errors.js';
import { tokenFromHeader } from '../http/auth.js';
import type { EventBus, EventOrder, RealtimeEvent } from './bus.js';
import { FeedStream, type FeedReader } from './feed-stream.js';

/** Close codes sent by the gateway (4xxx are ours, modelled on the HTTP statuses). */
export const CloseCode = {
  shuttingDown: 1001,
  badFrame: 1008,
  frameTooLarge: 1009,
  /** Events may have been missed (the bus between instances came back): reconnect and catch up. */
  catchUp: 1012,
  /** The client read too slowly and the server stopped buffering for it; or a dependency is down. */
  tryAgainLater: 1013,
  unauthenticated: 4401,
  authTimeout: 4408,
  /** The `after` of the auth frame is older than the feed keeps: reload, then reconnect after the seq sent. */
  gone: 4410,
  tooManyConnections: 4429,
  /** The socket sent more frames than its budget allows. */
  tooManyFrames: 4429,
} as const;

/** Who is connected here, and what they type: presence and typing indicators. */
export interface SessionActivity {
  /** The user's first socket on this instance is open. */
  opened(user: { id: number; username: string }): void;
  /** The user's last socket on this instance has closed. */
  closed(user: { id: number; username: string }): void;
  /** The user is typing to `to` (a frame as the client sent it). */
  typing(user: { id: number; username: string }, to: string): void;
}

export interface GatewayLimits {
  /** How long an unauthenticated socket may wait before its auth frame. */
  authTimeoutMs: number;
  /** How often the server pings; a socket that did not answer the previous ping is dropped. */
  heartbeatIntervalMs: number;
  /** Largest frame a client may send. */
  maxFrameBytes: number;
  /** Bytes the server buffers for one socket before disconnecting it as a slow consumer. */
  maxBufferedBytes: number;
  /** Open sockets per user on one instance. */
  maxConnectionsPerUser: number;
  /** How long shutdown waits for clients to answer the 1001 close before cutting them. */
  shutdownGraceMs: number;
  /** Frames a socket may send per second, steadily (pings and the auth frame count too)... */
  framesPerSecond: number;
  /** ...and at once, after a quiet spell. */
  frameBurst: number;
}

export const DEFAULT_GATEWAY_LIMITS: GatewayLimits = {
  authTimeoutMs: 10_000,
  heartbeatIntervalMs: 30_000,
  maxFrameBytes: 4096,
  maxBufferedBytes: 1024 * 1024,
  maxConnectionsPerUser: 32,
  shutdownGraceMs: 2000,
  // A client types, pings and reconnects far below this; a flood is closed within a second.
  framesPerSecond: 20,
  frameBurst: 100,
};

// setTimeout's longest delay (about 24.8 days); a later token expiry is checked again then.
const MAX_TIMER_MS = 2 ** 31 - 1;

// A slow consumer's close frame waits behind its backlog; the socket is cut soon after anyway.
const SLOW_CONSUMER_CLOSE_GRACE_MS = 1000;
// A client may pipeline a few frames behind its auth frame; more is not a client we know.
const MAX_FRAMES_WAITING_FOR_AUTH = 16;

/** One socket. Kept small: an idle connection should cost the server little memory. */
class Connection {
  userId = 0;
  username = '';
  tokenId = 0;
  /** The user's feed as this socket has seen it (set once authenticated). */
  stream: FeedStream | undefined;
  alive = true;
  authTimer: NodeJS.Timeout | undefined;
  /** Fires when the token may have expired (its expiry may have slid since: checked again then). */
  expiryTimer: NodeJS.Timeout | undefined;
  /** The frame budget: a token bucket, refilled at framesPerSecond up to frameBurst. */
  frameTokens: number;
  refilledAt: number;
  /** Frames received while the token is being checked; undefined when no check is running. */
  waiting: Array<{ data: RawData; isBinary: boolean }> | undefined;

  constructor(
    readonly socket: WebSocket,
    budget: number,
    now: number,
  ) {
    this.frameTokens = budget;
    this.refilledAt = now;
  }

  get authenticated(): boolean {
    return this.userId !== 0;
  }

  close(code: number, reason: string): void {
    if (this.socket.readyState === WebSocket.CONNECTING || this.socket.readyState === WebSocket.OPEN) this.socket.close(code, reason);
  }
}

export interface GatewayOptions {
  accounts: AccountsService;
  bus: EventBus;
  logger: Logger;
  /** Where replays and gaps are read from. */
  feed: FeedReader;
  activity?: SessionActivity;
  limits?: Partial<GatewayLimits>;
  clock?: () => number;
}

export class RealtimeGateway {
  private readonly accounts: AccountsService;
  private readonly bus: EventBus;
  private readonly logger: Logger;
  private readonly feed: FeedReader;
  private readonly activity: SessionActivity | undefined;
  private readonly limits: GatewayLimits;
  private readonly clock: () => number;
  private readonly connections = new Set<Connection>();
  private readonly byUser = new Map<number, Set<Connection>>();
  private readonly unsubscribe: Array<() => void> = [];
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(options: GatewayOptions) {
    this.accounts = options.accounts;
    this.bus = options.bus;
    this.logger = options.logger;
    this.feed = options.feed;
    this.activity = options.activity;
    this.limits = { ...DEFAULT_GATEWAY_LIMITS, ...options.limits };
    this.clock = options.clock ?? Date.now;
  }

  /** Authenticated open sockets on this instance. */
  get openConnections(): number {
    let count = 0;
    for (const set of this.byUser.values()) count += set.size;
    return count;
  }

  /** The Fastify plugin serving /ws; its preClose sends 1001 to every socket. */
  plugin() {
    return async (app: FastifyInstance) => {
      await app.register(websocket, {
        options: { maxPayload: this.limits.maxFrameBytes },
        // ws has already closed the socket with the right code (1009, 1002) when it reports an error.
        errorHandler: (error, socket) => {
          this.logger.debug({ err: error }, 'websocket error');
          if (socket.readyState === WebSocket.OPEN) socket.close(1011, 'internal error');
        },
        preClose: () => this.shutdown(app),
      });
      app.route({
        method: 'GET',
        url: '/ws',
        schema: { tags: ['real time'], summary: 'WebSocket: real-time events (upgrade required)' },
        handler: async () => {
          throw new HttpError(426, 'upgrade_required', 'This endpoint speaks WebSocket: send an Upgrade request.');
        },
        wsHandler: (socket, request) => this.accept(socket, request.headers.authorization),
      });
      this.unsubscribe.push(
        this.bus.subscribe((userId, event, order) => this.deliver(userId, event, order)),
        this.bus.subscribeRevocations((userId, revocation) => this.revoke(userId, revocation)),
        this.bus.onGap(() => this.closeAll(CloseCode.catchUp, 'events may have been missed: reconnect and catch up')),
      );
      this.heartbeat = setInterval(() => this.beat(), this.limits.heartbeatIntervalMs);
      this.heartbeat.unref();
    };
  }

  private accept(socket: WebSocket, authorization: string | undefined): void {
    const connection = new Connection(socket, this.limits.frameBurst, this.clock());
    this.connections.add(connection);
    socket.on('message', (data, isBinary) => {
      if (!this.spendFrame(connection)) return connection.close(CloseCode.tooManyFrames, 'too many frames');
      this.receive(connection, data, isBinary);
    });
    socket.on('pong', () => {
      connection.alive = true;
    });
    socket.on('close', () => this.forget(connection));

    const token = tokenFromHeader(authorization);
    if (authorization !== undefined) {
      if (token) void this.authenticate(connection, token);
      else connection.close(CloseCode.unauthenticated, 'invalid authorization header');
      return;
    }
    connection.authTimer = setTimeout(() => connection.close(CloseCode.authTimeout, 'authentication timed out'), this.limits.authTimeoutMs);
  }

  /**
   * Frames that arrive while the token is checked (and the replay is sent) wait, so none is read
   * as unauthenticated, and a pong answered after them means the socket is live.
   */
  private async authenticate(connection: Connection, token: string, after?: number): Promise<void> {
    const { socket } = connection;
    socket.pause();
    connection.waiting = [];
    clearTimeout(connection.authTimer);
    connection.authTimer = undefined;
    let auth: AuthenticatedUser | undefined | 'unavailable';
    try {
      auth = await this.accounts.authenticate(token);
    } catch (error) {
      this.logger.error({ err: error }, 'websocket authentication failed');
      auth = 'unavailable';
    } finally {
      // Frames go on waiting in the queue; a close handshake must be read to complete.
      socket.resume();
    }
    if (socket.readyState !== WebSocket.OPEN) return;
    // A database outage is not the token's fault: the client should retry, not log out.
    if (auth === 'unavailable') return connection.close(CloseCode.tryAgainLater, 'authentication unavailable, try again later');
    if (!auth) return connection.close(CloseCode.unauthenticated, 'invalid or expired token');
    const userId = auth.user.id;
    let set = this.byUser.get(userId);
    if (set && set.size >= this.limits.maxConnectionsPerUser) {
      return connection.close(CloseCode.tooManyConnections, 'too many connections for this user');
    }
    if (!set) this.byUser.set(userId, (set = new Set()));
    set.add(connection);
    connection.userId = userId;
    connection.username = auth.user.username;
    connection.tokenId = auth.tokenId;
    this.expireAt(connection, auth.expiresAt);
    if (set.size === 1) this.activity?.opened({ id: userId, username: auth.user.username });
    // Registered first, so that live events wait in the stream while it starts: none is missed.
    connection.stream = new FeedStream(userId, this.feed, this.sinkOf(connection), (error) => this.streamFailed(connection, error));
    try {
      await connection.stream.start(after);
    } catch (error) {
      return this.streamFailed(connection, error);
    }
    const waiting = connection.waiting;
    connection.waiting = undefined;
    for (const frame of waiting ?? []) this.receive(connection, frame.data, frame.isBinary);
  }

  private receive(connection: Connection, data: RawData, isBinary: boolean): void {
    // Frames already in the socket's buffer keep coming after a close: none is handled.
    if (connection.socket.readyState !== WebSocket.OPEN) return;
    connection.alive = true;
    if (connection.waiting) {
      if (connection.waiting.length >= MAX_FRAMES_WAITING_FOR_AUTH) return connection.close(CloseCode.badFrame, 'too many frames before authentication');
      connection.waiting.push({ data, isBinary });
      return;
    }
    const frame = isBinary ? undefined : parseFrame(data);
    if (!frame) return connection.close(CloseCode.badFrame, 'frames are JSON objects with a "type"');
    if (!connection.authenticated) {
      if (frame.type !== 'auth') return connection.close(CloseCode.unauthenticated, 'authenticate first');
      if (typeof frame.token !== 'string' || frame.token === '') return connection.close(CloseCode.badFrame, 'the auth frame needs a "token"');
      const { after } = frame;
      if (after !== undefined && !(typeof after === 'number' && Number.isSafeInteger(after) && after >= 0)) {
        return connection.close(CloseCode.badFrame, '"after" is the last seq handled: a whole number, 0 or more');
      }
      void this.authenticate(connection, frame.token, after);
      return;
    }
    switch (frame.type) {
      case 'ping':
        this.send(connection, '{"type":"pong"}');
        return;
      case 'typing':
        if (typeof frame.to !== 'string' || frame.to === '' || frame.to.length > 420) return connection.close(CloseCode.badFrame, 'the typing frame needs a "to"');
        this.activity?.typing({ id: connection.userId, username: connection.username }, frame.to);
        return;
      case 'auth':
        // Already authenticated (by header, or a repeated frame): nothing more to do.
        return;
      default:
        connection.close(CloseCode.badFrame, `unknown frame type "${String(frame.type).slice(0, 32)}"`);
    }
  }

  /** Takes one frame from the socket's budget; false when it is spent. */
  private spendFrame(connection: Connection): boolean {
    const now = this.clock();
    const { framesPerSecond, frameBurst } = this.limits;
    connection.frameTokens = Math.min(frameBurst, connection.frameTokens + ((now - connection.refilledAt) * framesPerSecond) / 1000);
    connection.refilledAt = now;
    if (connection.frameTokens < 1) return false;
    connection.frameTokens -= 1;
    return true;
  }

  /**
   * Closes the socket with 4401 once its token has expired or is gone (expired tokens are
   * deleted too); HTTP use may have slid the expiry meanwhile, so it is read again then.
   */
  private expireAt(connection: Connection, expiresAt: number): void {
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, expiresAt - this.clock()));
    connection.expiryTimer = setTimeout(() => void this.checkExpiry(connection), delay);
    connection.expiryTimer.unref();
  }

  private async checkExpiry(connection: Connection): Promise<void> {
    let expiresAt: number | undefined | 'unavailable';
    try {
      expiresAt = await this.accounts.tokenExpiry(connection.tokenId);
    } catch (error) {
      this.logger.warn({ err: error }, 'websocket: reading a token expiry failed');
      expiresAt = 'unavailable';
    }
    if (!this.connections.has(connection)) return;
    // The database is away: look again soon rather than log the user out.
    if (expiresAt === 'unavailable') return this.expireAt(connection, this.clock() + this.limits.heartbeatIntervalMs);
    if (expiresAt === undefined || expiresAt <= this.clock()) return connection.close(CloseCode.unauthenticated, 'token expired');
    this.expireAt(connection, expiresAt);
  }

  private deliver(userId: number, event: RealtimeEvent, order: EventOrder | undefined): void {
    const set = this.byUser.get(userId);
    if (!set) return;
    const data = JSON.stringify(event);
    const { seq } = event;
    for (const connection of set) {
      // Feed events go through the socket's stream, in seq order; typing and presence go as they come.
      if (typeof seq === 'number' && connection.stream) connection.stream.offer(seq, order?.prev, data);
      else this.send(connection, data);
    }
  }

  private sinkOf(connection: Connection) {
    const { socket } = connection;
    const threshold = this.limits.maxBufferedBytes / 2;
    return {
      get open() {
        return socket.readyState === WebSocket.OPEN;
      },
      send: (data: string) => this.send(connection, data),
      // A replay may be far larger than the live buffer allows: it goes at the pace the client reads.
      sendPaced: (data: string) =>
        new Promise<void>((resolve) => {
          if (socket.readyState !== WebSocket.OPEN) return resolve();
          if (socket.bufferedAmount < threshold) {
            socket.send(data);
            return resolve();
          }
          socket.send(data, () => resolve());
        }),
    };
  }

  private streamFailed(connection: Connection, error: unknown): void {
    if (error instanceof Gone) {
      this.send(connection, JSON.stringify({ type: 'error', ...error.toBody() }));
      return connection.close(CloseCode.gone, 'events pruned: reload, then reconnect after the seq given');
    }
    this.logger.error({ err: error, userId: connection.userId }, 'websocket: reading the change feed failed');
    connection.close(CloseCode.tryAgainLater, 'the change feed is unavailable, try again later');
  }

  private send(connection: Connection, data: string): void {
    const { socket } = connection;
    if (socket.readyState !== WebSocket.OPEN) return;
    if (socket.bufferedAmount + Buffer.byteLength(data) > this.limits.maxBufferedBytes) {
      this.logger.info({ userId: connection.userId, buffered: socket.bufferedAmount }, 'websocket client too slow; disconnecting');
      connection.close(CloseCode.tryAgainLater, 'too slow: reconnect and catch up');
      setTimeout(() => socket.terminate(), SLOW_CONSUMER_CLOSE_GRACE_MS).unref();
      this.forget(connection);
      return;
    }
    socket.send(data);
  }

  private revoke(userId: number, revocation: TokenRevocation): void {
    const set = this.byUser.get(userId);
    if (!set) return;
    for (const connection of [...set]) {
      const revoked = 'tokenId' in revocation ? connection.tokenId === revocation.tokenId : connection.tokenId !== revocation.allExcept;
      if (revoked) connection.close(CloseCode.unauthenticated, 'token revoked');
    }
  }

  /** Drops sockets that did not answer the last ping, and pings the others. */
  private beat(): void {
    for (const connection of this.connections) {
      if (!connection.alive) {
        connection.socket.terminate();
        this.forget(connection);
        continue;
      }
      connection.alive = false;
      if (connection.socket.readyState === WebSocket.OPEN) connection.socket.ping();
    }
  }

  private forget(connection: Connection): void {
    clearTimeout(connection.authTimer);
    connection.authTimer = undefined;
    clearTimeout(connection.expiryTimer);
    connection.expiryTimer = undefined;
    this.connections.delete(connection);
    const set = this.byUser.get(connection.userId);
    if (set?.delete(connection) && set.size === 0) {
      this.byUser.delete(connection.userId);
      this.activity?.closed({ id: connection.userId, username: connection.username });
    }
  }

  private closeAll(code: number, reason: string): void {
    for (const connection of [...this.connections]) connection.close(code, reason);
  }

  /** Says 1001 to every socket, waits a little for them to close, then cuts the rest. */
  private async shutdown(app: FastifyInstance): Promise<void> {
    clearInterval(this.heartbeat);
    for (const stop of this.unsubscribe.splice(0)) stop();
    const sockets = [...this.connections].map((connection) => connection.socket);
    this.closeAll(CloseCode.shuttingDown, 'server shutting down');
    let timer: NodeJS.Timeout | undefined;
    const closed = Promise.all(sockets.map((socket) => (socket.readyState === WebSocket.CLOSED ? undefined : new Promise((done) => socket.once('close', done)))));
    await Promise.race([closed, new Promise((done) => (timer = setTimeout(done, this.limits.shutdownGraceMs)))]);
    clearTimeout(timer);
    for (const socket of sockets) socket.terminate();
    await new Promise<void>((done) => app.websocketServer.close(() => done()));
  }
}

function parseFrame(data: RawData): { type: unknown; [field: string]: unknown } | undefined {
  try {
    const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data).toString('utf8');
    const frame: unknown = JSON.parse(text);
    if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) return undefined;
    return typeof (frame as { type?: unknown }).type === 'string' ? (frame as { type: string }) : undefined;
  } catch {
    return undefined;
  }
}
