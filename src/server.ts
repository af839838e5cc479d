// Opens what the app depends on (database, Redis, key), migrates, builds the app and listens.
import { createServer } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { AbuseLimits } from './accounts/service.js';
import { buildApp } from './app.js';
import { ConfigError, type Config } from './config.js';
import { openDatabase, type Database } from './db/database.js';
import { migrateToLatest } from './db/migrate.js';
import type { OutboxTuning } from './federation/outbox/worker.js';
import type { EventBus } from './realtime/bus.js';
import type { GatewayLimits } from './realtime/gateway/protocol.js';
import { atRestKeyRing, resolveKeys } from './encryption-key.js';
import { createLogger } from './logger.js';
import { checkStoredMessagesOpen } from './messages/at-rest-check.js';
import { MessagesRepository } from './messages/repository.js';
import type { SmsVerifier } from './sms/provider.js';

export interface RunningServer {
  app: FastifyInstance;
  /** http://host:port as actually bound (port 0 picks a free one). */
  url: string;
  close(): Promise<void>;
}

export interface ServerOptions {
  logger?: Logger;
  clock?: () => number;
  abuseLimits?: AbuseLimits;
  /** Replaces the SMS provider chosen from the configuration (tests shorten its timeout). */
  smsVerifier?: SmsVerifier;
  realtimeLimits?: Partial<GatewayLimits>;
  /** A bus shared with the caller (tests publish on it); by default one is made from REDIS_URL. */
  bus?: EventBus;
  /** Federation delivery settings (tests shorten waits). */
  outbox?: OutboxTuning;
  /** How often the change feed is pruned (tests shorten it). */
  feedPruneIntervalMs?: number;
  /** How often peers' old receipts are pruned (tests shorten it). */
  receiptPruneIntervalMs?: number;
  /** How often expired tokens are deleted (tests shorten it). */
  tokenPruneIntervalMs?: number;
}

export function connectRedis(url: string, logger: Logger): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, connectTimeout: 2000, retryStrategy: (attempt) => Math.min(attempt * 200, 2000) });
  // ioredis reconnects by itself; an unhandled 'error' event would crash the process instead.
  redis.on('error', (error) => logger.warn({ err: error }, 'redis connection error'));
  return redis;
}

// Events published before Redis answers would be dropped; past this wait the instance starts degraded.
const REDIS_START_WAIT_MS = 3000;

async function untilRedisReady(redis: Redis, timeoutMs: number, logger: Logger): Promise<void> {
  if (redis.status === 'ready') return;
  let timer: NodeJS.Timeout | undefined;
  const ready = await Promise.race([
    new Promise<boolean>((resolve) => redis.once('ready', () => resolve(true))),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
  ]);
  clearTimeout(timer);
  if (!ready) logger.warn({ waitedMs: timeoutMs }, 'redis is not answering; starting without it (real time stays within this instance until it is back)');
}

/**
 * A database number the Redis server does not have is only logged by the client, which then
 * stays on database 0: instances meant to be kept apart would share it unawares.
 */
async function checkRedisDatabase(redis: Redis): Promise<void> {
  const database = redis.options.db ?? 0;
  if (database === 0 || redis.status !== 'ready') return;
  await redis.select(database).catch((error: unknown) => {
    throw new ConfigError('REDIS_URL', `the Redis server has no database ${database} (${(error as Error).message})`, 'REDIS_URL=redis://127.0.0.1:6379/0');
  });
}

export async function startServer(config: Config, options: ServerOptions = {}): Promise<RunningServer> {
  const logger = options.logger ?? createLogger({ level: config.logLevel, format: config.logFormat });
  // HOST, PORT and REDIS_URL are checked before any key file or database is made: nothing starts half-configured.
  await probeListen(config);
  const redis = config.redisUrl ? connectRedis(config.redisUrl, logger) : undefined;
  let database: Database | undefined;
  let app: FastifyInstance | undefined;
  try {
    if (redis) await untilRedisReady(redis, REDIS_START_WAIT_MS, logger).then(() => checkRedisDatabase(redis));
    const keys = resolveKeys(config, logger);
    const atRest = atRestKeyRing(keys, config.encryptionKeysPrevious);
    const opened = (database = openDatabase(config.database));
    const applied = await migrateToLatest(opened);
    if (applied.length > 0) logger.info({ migrations: applied }, 'database migrated');
    await checkStoredMessagesOpen(new MessagesRepository(opened.db, opened.kind), atRest, config.keyDir);
    app = await buildApp(config, {
      database: opened,
      logger,
      encryptionKey: keys.encryptionKey,
      atRest,
      ...(redis ? { redis } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.abuseLimits ? { abuseLimits: options.abuseLimits } : {}),
      ...(options.smsVerifier ? { smsVerifier: options.smsVerifier } : {}),
      ...(options.realtimeLimits ? { realtimeLimits: options.realtimeLimits } : {}),
      ...(options.bus ? { bus: options.bus } : {}),
      ...(options.outbox ? { outbox: options.outbox } : {}),
      ...(options.feedPruneIntervalMs ? { feedPruneIntervalMs: options.feedPruneIntervalMs } : {}),
      ...(options.receiptPruneIntervalMs ? { receiptPruneIntervalMs: options.receiptPruneIntervalMs } : {}),
      ...(options.tokenPruneIntervalMs ? { tokenPruneIntervalMs: options.tokenPruneIntervalMs } : {}),
      release: async () => {
        // QUIT lets commands already sent finish; a connection that is down is just dropped.
        if (redis?.status === 'ready') await redis.quit().catch(() => redis.disconnect());
        else redis?.disconnect();
        await opened.close();
      },
    });
    await app.listen({ port: config.port, host: config.host }).catch((error: unknown) => {
      throw listenProblem(error, config) ?? error;
    });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
    const running = app;
    return { app, url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`, close: () => closeGracefully(running) };
  } catch (error) {
    // A built app has workers and timers running (the outbox, presence sweeps): closing it stops
    // them and releases Redis and the database, so that a start that failed ends the process.
    if (app) await app.close().catch(() => undefined);
    else {
      redis?.disconnect();
      await database?.close();
    }
    throw error;
  }
}

/**
 * Closes the app and its server. Node closes the connections that are idle when closing
 * starts; a keep-alive connection whose request was still running becomes idle afterwards
 * and would hold the close until its client leaves, so such connections are closed as soon
 * as their answer has gone.
 */
async function closeGracefully(app: FastifyInstance): Promise<void> {
  const sweeper = setInterval(() => app.server.closeIdleConnections(), 50);
  try {
    await app.close();
  } finally {
    clearInterval(sweeper);
  }
}

/** Whether HOST and PORT can be listened on (a name that resolves, to an address of this machine; a port free to take), by a listen closed at once. */
async function probeListen(config: Config): Promise<void> {
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', (error) => reject(listenProblem(error, config) ?? error));
    probe.listen(config.port, config.host, () => probe.close(() => resolve()));
  });
}

/** A listen that failed because of HOST or PORT, named as a configuration error (config.md). */
function listenProblem(error: unknown, config: Config): ConfigError | undefined {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EADDRNOTAVAIL') {
    return new ConfigError('HOST', `cannot listen on "${config.host}": it is not an address of this machine (${code})`, 'HOST=0.0.0.0');
  }
  if (code === 'EADDRINUSE') return new ConfigError('PORT', `port ${config.port} is already in use on ${config.host}`, 'PORT=8000');
  if (code === 'EACCES') return new ConfigError('PORT', `port ${config.port} needs privileges this process does not have`, 'PORT=8000');
  return undefined;
}
