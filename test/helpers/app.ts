// Starts real RealChat apps on loopback for tests, each with its own data folder and database.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKey } from '../../src/crypto/keys.js';
import { loadConfig, type Config, type Environment } from '../../src/config.js';
import { startServer, type RunningServer, type ServerOptions } from '../../src/server.js';
import { createPostgresSchema, type DatabaseKind, type TestDatabase } from './databases.js';

export interface TestApp extends RunningServer {
  config: Config;
  dir: string;
  env: Environment;
  /** Stops this app and starts it again on the same port, data and key. */
  restart(): Promise<TestApp>;
  /** Closes the app and removes its data. */
  destroy(): Promise<void>;
}

/** A fresh ENCRYPTION_KEY, in the format `realchat keygen` writes. */
export const newKey = generateKey;

export interface TestAppOptions extends ServerOptions {
  database?: DatabaseKind;
  env?: Environment;
}

export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const dir = mkdtempSync(join(tmpdir(), 'realchat-test-'));
  let postgres: TestDatabase | undefined;
  if (options.database === 'postgres') postgres = await createPostgresSchema();
  const env: Environment = {
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    ENCRYPTION_KEY: newKey(),
    DATABASE_URL: postgres ? postgres.url : `sqlite:${join(dir, 'realchat.db')}`,
    ...options.env,
  };
  // With PostgreSQL no key is generated: the test gives one, as an operator must.
  if (env.DATABASE_URL?.startsWith('postgres') && env.STORAGE_KEY === undefined) env.STORAGE_KEY = newKey();
  const cleanup = async () => {
    await postgres?.drop();
    rmSync(dir, { recursive: true, force: true });
  };
  return launch(env, dir, options, cleanup);
}

async function launch(env: Environment, dir: string, options: TestAppOptions, cleanup: () => Promise<void>): Promise<TestApp> {
  const config = loadConfig(env, dir);
  const server = await startServer(config, withPatientFirstTry(options));
  const app: TestApp = {
    ...server,
    config,
    dir,
    env,
    restart: async () => {
      await server.close();
      const port = new URL(server.url).port;
      return launch({ ...env, PORT: port }, dir, options, cleanup);
    },
    destroy: async () => {
      await server.close();
      await cleanup();
    },
  };
  return app;
}

/**
 * Tests about delivery wait up to 5 s for a peer's first answer instead of 300 ms, so that a
 * loaded test machine does not turn `delivered` into `queued`; tests about the wait set it.
 */
export function withPatientFirstTry(options: ServerOptions): ServerOptions {
  return { ...options, outbox: { firstTryWaitMs: 5000, ...options.outbox } };
}
