// Several RealChat backends on loopback, each with its own database, data folder and at-rest key,
// configured as each other's peers (one shared key per pair). A backend runs in this process, or
// as `node dist/main.js serve` when a test needs to kill it; either way it can stop and start
// again on the same port and data.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Environment } from '../../src/config.js';
import { openDatabase, type Database } from '../../src/db/database.js';
import { startServer, type RunningServer, type ServerOptions } from '../../src/server.js';
import { newKey, withPatientFirstTry } from './app.js';
import { bareEnvironment, startServe, type ServeProcess } from './cli.js';
import { createPostgresSchema, type DatabaseKind, type TestDatabase } from './databases.js';
import { freePort } from './ports.js';

export interface PeerEntry {
  name: string;
  url: string;
  key: string;
  previous_keys?: string[];
  compat?: boolean;
  token?: string;
}

export interface Backend {
  name: string;
  url: string;
  dir: string;
  env: Environment;
  /** Its peers as its PEERS variable lists them. */
  peers: PeerEntry[];
  running: boolean;
  /** Starts it (again) in this process, with the same port and data; `env` changes stick. */
  start(env?: Environment, options?: ServerOptions): Promise<void>;
  /** Starts it as a child process, `realchat serve` built in dist/. */
  spawn(env?: Environment): Promise<ServeProcess>;
  stop(): Promise<void>;
  /** A connection of its own to the backend's database, for looking at what is stored. */
  openDatabase(): Database;
  destroy(): Promise<void>;
}

export interface BackendsOptions {
  /** Extra variables for every backend. */
  env?: Environment;
  /** Changes one backend's peer list before it starts (compat peers, wrong keys...). */
  peers?: (backend: string, peers: PeerEntry[]) => PeerEntry[];
  server?: ServerOptions;
  /** Start them now (default), or leave them stopped. */
  start?: boolean;
}

export async function startBackends(kind: DatabaseKind, names: string[], options: BackendsOptions = {}): Promise<Backend[]> {
  const ports = await Promise.all(names.map(() => freePort()));
  const urls = ports.map((port) => `http://127.0.0.1:${port}`);
  const pairKeys = new Map<string, string>();
  const keyOf = (a: string, b: string) => {
    const id = [a, b].sort().join('|');
    if (!pairKeys.has(id)) pairKeys.set(id, newKey());
    return pairKeys.get(id)!;
  };
  const backends = await Promise.all(
    names.map(async (name, index) => {
      const peers = names.flatMap((other, j) => (other === name ? [] : [{ name: other, url: urls[j]!, key: keyOf(name, other) }]));
      return makeBackend(kind, name, ports[index]!, options.peers ? options.peers(name, peers) : peers, options);
    }),
  );
  if (options.start !== false) await Promise.all(backends.map((backend) => backend.start()));
  return backends;
}

async function makeBackend(kind: DatabaseKind, name: string, port: number, peers: PeerEntry[], options: BackendsOptions): Promise<Backend> {
  const dir = mkdtempSync(join(tmpdir(), `realchat-${name}-`));
  const postgres: TestDatabase | undefined = kind === 'postgres' ? await createPostgresSchema() : undefined;
  let server: RunningServer | undefined;
  let child: ServeProcess | undefined;
  const backend: Backend = {
    name,
    url: `http://127.0.0.1:${port}`,
    dir,
    peers,
    running: false,
    env: {
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      SERVER_NAME: name,
      ENCRYPTION_KEY: newKey(),
      DATABASE_URL: postgres ? postgres.url : `sqlite:${join(dir, 'realchat.db')}`,
      // With PostgreSQL no key is generated: given, as an operator must.
      ...(postgres ? { STORAGE_KEY: newKey() } : {}),
      PEERS: JSON.stringify(peers),
      ...options.env,
    },
    async start(env = {}, serverOptions = options.server ?? {}) {
      Object.assign(backend.env, env);
      server = await startServer(loadConfig(backend.env, dir), withPatientFirstTry(serverOptions));
      backend.running = true;
    },
    async spawn(env = {}) {
      Object.assign(backend.env, env);
      const processEnv = bareEnvironment(Object.fromEntries(Object.entries(backend.env).filter((entry): entry is [string, string] => entry[1] !== undefined)));
      child = await startServe({ cwd: dir, env: processEnv, port });
      backend.running = true;
      return child;
    },
    async stop() {
      backend.running = false;
      if (server) await server.close();
      if (child) await child.stop('SIGKILL');
      server = undefined;
      child = undefined;
    },
    openDatabase: () => openDatabase(loadConfig(backend.env, dir).database),
    async destroy() {
      await backend.stop();
      await postgres?.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return backend;
}
