// Several RealChat instances sharing one database and one Redis, as behind a load balancer,
// and a throwaway redis-server that a test may stop and start again.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { newKey, startTestApp, type TestApp } from '../helpers/app.js';
import { createPostgresSchema, type DatabaseKind } from '../helpers/databases.js';
import { RedisEventBus } from '../../src/realtime/redis-bus.js';
import type { ServerOptions } from '../../src/server.js';

export const REDIS_SERVER = '/usr/bin/redis-server';
export const haveRedisServer = existsSync(REDIS_SERVER);

export interface Cluster {
  instances: TestApp[];
  /** Environment shared by every instance (database, Redis, key, server name). */
  env: Record<string, string>;
  /** Starts one more instance on the same database and Redis. */
  add(options?: ServerOptions): Promise<TestApp>;
  destroy(): Promise<void>;
}

export interface ClusterOptions {
  count: number;
  database: DatabaseKind;
  redisUrl: string;
  server?: ServerOptions;
  /** Extra variables shared by every instance (peers, ...). */
  env?: Record<string, string>;
}

export async function startCluster({ count, database, redisUrl, server: options = {}, env: extraEnv = {} }: ClusterOptions): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), 'realchat-cluster-'));
  const postgres = database === 'postgres' ? await createPostgresSchema() : undefined;
  const env = {
    DATABASE_URL: postgres ? postgres.url : `sqlite:${join(dir, 'shared.db')}`,
    REDIS_URL: redisUrl,
    ENCRYPTION_KEY: newKey(),
    // Instances of one deployment share their keys: each has a folder of its own, where a generated
    // STORAGE_KEY would differ (with PostgreSQL, the database has no folder to keep one beside).
    STORAGE_KEY: newKey(),
    // The event channel is named after the backend: a unique name keeps parallel tests apart.
    SERVER_NAME: `cluster-${randomBytes(4).toString('hex')}`,
    ...extraEnv,
  };
  const instances: TestApp[] = [];
  const add = async (extra: ServerOptions = {}) => {
    const app = await startTestApp({ ...options, ...extra, env });
    instances.push(app);
    return app;
  };
  // Started together, as a deployment would: migrations must run once.
  await Promise.all(Array.from({ length: count }, () => add()));
  await Promise.all(instances.map((app) => untilReady(app)));
  return {
    instances,
    env,
    add,
    destroy: async () => {
      await Promise.all(instances.map((app) => app.destroy()));
      await postgres?.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A bus of the test's own on the cluster's channel: events it publishes come "from another instance". */
export function outsideBus(cluster: Cluster): { bus: RedisEventBus; close(): Promise<void> } {
  const publisher = new Redis(cluster.env.REDIS_URL, { maxRetriesPerRequest: 1 });
  publisher.on('error', () => undefined);
  const bus = new RedisEventBus({ publisher, logger: pino({ level: 'silent' }), channel: `realchat:${cluster.env.SERVER_NAME}:events` });
  return {
    bus,
    close: async () => {
      await bus.close();
      publisher.disconnect();
    },
  };
}

/** Waits until /readyz says 200: the instance is subscribed to the event channel. */
export async function untilReady(app: TestApp, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await fetch(`${app.url}/readyz`)).status !== 200) {
    if (Date.now() > deadline) throw new Error(`${app.url} not ready within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** A redis-server of the test's own, on a free port, with nothing saved to disk. */
export class ThrowawayRedis {
  private process: ChildProcess | undefined;

  private constructor(readonly port: number) {}

  static async start(): Promise<ThrowawayRedis> {
    const redis = new ThrowawayRedis(await freePort());
    await redis.start();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn(REDIS_SERVER, ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    this.process = child;
    const deadline = Date.now() + 10_000;
    for (;;) {
      const probe = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => undefined);
      try {
        await probe.connect();
        await probe.ping();
        return;
      } catch (error) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`redis-server did not start on port ${this.port}: ${String(error)}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      } finally {
        probe.disconnect();
      }
    }
  }

  async stop(): Promise<void> {
    const child = this.process;
    this.process = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
}
