#!/usr/bin/env node
// The `realchat` command line: serve | migrate | keygen | --help | --version.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError, loadConfig, readEnvironment, type Config } from './config.js';
import { openDatabase } from './db/database.js';
import { migrateToLatest } from './db/migrate.js';
import { createLogger } from './logger.js';
import { startServer } from './server.js';

const HELP = `Usage: realchat <command>

Commands:
  serve        migrate the database to the latest version, then serve HTTP and WebSocket
  migrate      only migrate the database
  keygen       print a new key (32 bytes, URL-safe base64) for ENCRYPTION_KEY or a peer
  --help       show this help
  --version    show the version

Configuration comes from the environment and ./.env; see the README.`;

const SHUTDOWN_GRACE_MS = 15_000;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function config(): Config {
  return loadConfig(readEnvironment());
}

async function serve(): Promise<void> {
  const cfg = config();
  const logger = createLogger({ level: cfg.logLevel, format: cfg.logFormat });
  const server = await startServer(cfg, { logger });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const forced = setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, SHUTDOWN_GRACE_MS);
    forced.unref();
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'error while shutting down');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

async function migrate(): Promise<void> {
  const cfg = config();
  const database = openDatabase(cfg.database);
  try {
    const applied = await migrateToLatest(database);
    console.log(applied.length ? `Applied: ${applied.join(', ')}` : 'The database is up to date.');
  } finally {
    await database.close();
  }
}

const commands: Record<string, () => Promise<void> | void> = {
  serve,
  migrate,
  keygen: () => console.log(randomBytes(32).toString('base64url') + '='),
  '--help': () => console.log(HELP),
  '-h': () => console.log(HELP),
  help: () => console.log(HELP),
  '--version': () => console.log(version()),
  '-v': () => console.log(version()),
};

async function main(argv: string[]): Promise<void> {
  const name = argv[0] ?? '--help';
  const command = commands[name];
  if (!command) {
    console.error(`realchat: unknown command "${name}"\n\n${HELP}`);
    process.exitCode = 2;
    return;
  }
  try {
    await command();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`realchat: configuration error: ${error.message}`);
      process.exitCode = 2;
      return;
    }
    console.error(`realchat: ${(error as Error).message}`);
    process.exitCode = 1;
  }
}

await main(process.argv.slice(2));
