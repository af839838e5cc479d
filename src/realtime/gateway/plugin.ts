// The WebSocket gateway at /ws: the Fastify plugin that accepts sockets, authenticates them,
// feeds them the bus's events through the registry, and closes them all on shutdown. Slow
// readers, dead peers, revoked tokens and shutdown all end in a close code a client can act on.
import type { IncomingHttpHeaders } from 'node:http';
import websocket from '@fastify/websocket';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { WebSocket, type RawData } from 'ws';
import { tokenFromHeader } from '../../http/auth.js';
import { BadRequest, Gone, HttpError } from '../../http/errors.js';
import type { EventBus } from '../bus.js';
import { FeedStream, type FeedReader } from '../feed-stream.js';
import { Connection, type ConnectionOptions } from './connection.js';
import { CloseCode, DEFAULT_GATEWAY_LIMITS, readFrame, type GatewayLimits } from './protocol.js';
import { ConnectionRegistry, type SessionActivity } from './registry.js';

/** What the gateway asks of accounts/: who a token is for, and its expiry as it stands now. */
export interface SocketAuthenticator {
  authenticate(token: string): Promise<{ user: { id: number; username: string }; tokenId: number; expiresAt: number } | undefined>;
  /** The token's expiry (epoch ms), or undefined once it is gone. */
  tokenExpiry(tokenId: number): Promise<number | undefined>;
}

export interface GatewayOptions {
  accounts: SocketAuthenticator;
  bus: EventBus;
  logger: Logger;
  /** Where replays and gaps are read from. */
  feed: FeedReader;
  activity?: SessionActivity;
  limits?: Partial<GatewayLimits>;
  clock?: () => number;
}

// setTimeout's longest delay (about 24.8 days); a later token expiry is checked again then.
const MAX_TIMER_MS = 2 ** 31 - 1;

export class RealtimeGateway {
  private readonly limits: GatewayLimits;
  private readonly clock: () => number;
  private readonly registry: ConnectionRegistry;
  /** Shared by every connection. */
  private readonly connectionOptions: ConnectionOptions;
  private readonly unsubscribe: Array<() => void> = [];
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(private readonly options: GatewayOptions) {
    this.limits = { ...DEFAULT_GATEWAY_LIMITS, ...options.limits };
    this.clock = options.clock ?? Date.now;
    this.registry = new ConnectionRegistry(this.limits.maxConnectionsPerUser, options.activity);
    this.connectionOptions = { limits: this.limits, clock: this.clock, logger: options.logger, dropped: (connection) => this.registry.forget(connection) };
  }

  /** Authenticated open sockets on this instance. */
  get openConnections(): number {
    return this.registry.openConnections;
  }

  /** The Fastify plugin serving /ws; its preClose sends 1001 to every socket. */
  plugin() {
    return async (app: FastifyInstance) => {
      await app.register(websocket, {
        options: { maxPayload: this.limits.maxFrameBytes },
        // ws has already closed the socket with the right code (1009, 1002) when it reports an error.
        errorHandler: (error, socket) => {
          this.options.logger.debug({ err: error }, 'websocket error');
          if (socket.readyState === WebSocket.OPEN) socket.close(1011, 'internal error');
        },
        preClose: () => this.shutdown(app),
      });
      app.route({
        method: 'GET',
        url: '/ws',
        schema: { tags: ['real time'], summary: 'WebSocket: real-time events (upgrade required)' },
        // ws would refuse a bad handshake itself, with an HTML page: it gets the API's JSON instead.
        onRequest: async (request) => {
          if (request.ws && !isValidHandshake(request.headers)) {
            throw new BadRequest('bad_request', 'The WebSocket handshake is not valid: it needs a Sec-WebSocket-Key (16 bytes, base64) and Sec-WebSocket-Version 13.');
          }
        },
        handler: async () => {
          throw new HttpError(426, 'upgrade_required', 'This endpoint speaks WebSocket: send an Upgrade request.');
        },
        wsHandler: (socket, request) => this.accept(socket, request.headers.authorization),
      });
      const { bus } = this.options;
      this.unsubscribe.push(
        bus.subscribeDeliveries((deliveries, event) => this.registry.deliver(deliveries, event)),
        bus.subscribeRevocations((userId, revocation) => this.registry.revoke(userId, revocation)),
        bus.onGap(() => this.registry.closeAll(CloseCode.catchUp, 'events may have been missed: reconnect and catch up')),
      );
      this.heartbeat = setInterval(() => this.registry.heartbeat(), this.limits.heartbeatIntervalMs);
      this.heartbeat.unref();
    };
  }

  private accept(socket: WebSocket, authorization: string | undefined): void {
    const connection = new Connection(socket, this.connectionOptions);
    this.registry.add(connection);
    socket.on('message', (data, isBinary) => {
      if (!connection.spendFrame()) return connection.close(CloseCode.tooManyFrames, 'too many frames');
      this.receive(connection, data, isBinary);
    });
    socket.on('pong', () => {
      connection.alive = true;
    });
    socket.on('close', () => this.registry.forget(connection));

    const token = tokenFromHeader(authorization);
    if (authorization !== undefined) {
      if (token) void this.authenticate(connection, token);
      else connection.close(CloseCode.unauthenticated, 'invalid authorization header');
      return;
    }
    connection.authTimer = setTimeout(() => connection.close(CloseCode.authTimeout, 'authentication timed out'), this.limits.authTimeoutMs);
  }

  /**
   * Frames that arrive while the token is checked (and the replay is sent) are held, so none is
   * read as unauthenticated, and a pong answered after them means the socket is live.
   */
  private async authenticate(connection: Connection, token: string, after?: number): Promise<void> {
    const { socket } = connection;
    socket.pause();
    connection.hold();
    clearTimeout(connection.authTimer);
    connection.authTimer = undefined;
    let auth: Awaited<ReturnType<SocketAuthenticator['authenticate']>> | 'unavailable';
    try {
      auth = await this.options.accounts.authenticate(token);
    } catch (error) {
      this.options.logger.error({ err: error }, 'websocket authentication failed');
      auth = 'unavailable';
    } finally {
      // Frames go on waiting in the queue; a close handshake must be read to complete.
      socket.resume();
    }
    if (socket.readyState !== WebSocket.OPEN) return;
    // A database outage is not the token's fault: the client should retry, not log out.
    if (auth === 'unavailable') return connection.close(CloseCode.tryAgainLater, 'authentication unavailable, try again later');
    if (!auth) return connection.close(CloseCode.unauthenticated, 'invalid or expired token');
    if (!this.registry.admit(connection, auth.user, auth.tokenId)) {
      return connection.close(CloseCode.tooManyConnections, 'too many connections for this user');
    }
    this.expireAt(connection, auth.expiresAt);
    // Registered first, so that live events wait in the stream while it starts: none is missed.
    connection.stream = new FeedStream(auth.user.id, this.options.feed, connection, (error) => this.streamFailed(connection, error));
    try {
      await connection.stream.start(after);
    } catch (error) {
      return this.streamFailed(connection, error);
    }
    for (const frame of connection.release()) this.receive(connection, frame.data, frame.isBinary);
  }

  private receive(connection: Connection, data: RawData, isBinary: boolean): void {
    // Frames already in the socket's buffer keep coming after a close: none is handled.
    if (!connection.open) return;
    connection.alive = true;
    if (connection.holding) {
      if (!connection.keep(data, isBinary)) connection.close(CloseCode.badFrame, 'too many frames before authentication');
      return;
    }
    const request = readFrame(data, isBinary, connection.authenticated);
    switch (request.kind) {
      case 'close':
        return connection.close(request.code, request.reason);
      case 'authenticate':
        return void this.authenticate(connection, request.token, request.after);
      case 'ping':
        return connection.send('{"type":"pong"}');
      case 'typing':
        return this.options.activity?.typing({ id: connection.userId, username: connection.username }, 'group' in request ? { group: request.group } : { to: request.to });
      case 'none':
        return;
    }
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
      expiresAt = await this.options.accounts.tokenExpiry(connection.tokenId);
    } catch (error) {
      this.options.logger.warn({ err: error }, 'websocket: reading a token expiry failed');
      expiresAt = 'unavailable';
    }
    if (!this.registry.has(connection)) return;
    // The database is away: look again soon rather than log the user out.
    if (expiresAt === 'unavailable') return this.expireAt(connection, this.clock() + this.limits.heartbeatIntervalMs);
    if (expiresAt === undefined || expiresAt <= this.clock()) return connection.close(CloseCode.unauthenticated, 'token expired');
    this.expireAt(connection, expiresAt);
  }

  private streamFailed(connection: Connection, error: unknown): void {
    if (error instanceof Gone) {
      connection.send(JSON.stringify({ type: 'error', ...error.toBody() }));
      return connection.close(CloseCode.gone, 'events pruned: reload, then reconnect after the seq given');
    }
    this.options.logger.error({ err: error, userId: connection.userId }, 'websocket: reading the change feed failed');
    connection.close(CloseCode.tryAgainLater, 'the change feed is unavailable, try again later');
  }

  /** Says 1001 to every socket, waits a little for them to close, then cuts the rest. */
  private async shutdown(app: FastifyInstance): Promise<void> {
    clearInterval(this.heartbeat);
    for (const stop of this.unsubscribe.splice(0)) stop();
    const sockets = this.registry.closeAll(CloseCode.shuttingDown, 'server shutting down').map((connection) => connection.socket);
    let timer: NodeJS.Timeout | undefined;
    const closed = Promise.all(sockets.map((socket) => (socket.readyState === WebSocket.CLOSED ? undefined : new Promise((done) => socket.once('close', done)))));
    await Promise.race([closed, new Promise((done) => (timer = setTimeout(done, this.limits.shutdownGraceMs)))]);
    clearTimeout(timer);
    for (const socket of sockets) socket.terminate();
    await new Promise<void>((done) => app.websocketServer.close(() => done()));
  }
}

// What ws checks of an upgrade request before it answers 400 with an HTML page.
const HANDSHAKE_KEY = /^[+/0-9A-Za-z]{22}==$/;

function isValidHandshake(headers: IncomingHttpHeaders): boolean {
  const key = headers['sec-websocket-key'];
  const version = headers['sec-websocket-version'];
  return typeof key === 'string' && HANDSHAKE_KEY.test(key.trim()) && (version === '13' || version === '8');
}
