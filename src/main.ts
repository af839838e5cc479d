#!/usr/bin/env node
// The `realchat` command line: serve | migrate | keygen | rotate-key | --help | --version.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError, loadConfig, readEnvironment, type Config } from './config.js';
import { openDatabase } from './db/database.js';
import { migrateToLatest } from './db/migrate.js';
import { isDatabaseUnusable } from './db/unavailable.js';
import { atRestKeyRing, resolveKeys } from './encryption-key.js';
import { createLogger } from './logger.js';
import { rotateMessageKeys } from './messages/rotation.js';
import { MessagesRepository } from './messages/repository.js';
import { startServer } from './server.js';

const HELP = `Usage: realchat <command>

Commands:
  serve        migrate the database to the latest version, then serve HTTP and WebSocket
  migrate      only migrate the database
  keygen       print a new key (32 bytes, URL-safe base64) for ENCRYPTION_KEY, STORAGE_KEY or a peer
  rotate-key   re-encrypt stored messages under STORAGE_KEY (older ones open with ENCRYPTION_KEY
               or ENCRYPTION_KEYS_PREVIOUS), in batches; safe to interrupt and run again.
               Option: --batch-size N (default 500)
  --help       show this help
  --version    show the version

Configuration comes from the environment and ./.env; see the README.`;

const SHUTDOWN_GRACE_MS = 15_000;

const DATABASE_EXAMPLE = 'DATABASE_URL=postgres://user:password@127.0.0.1:5432/realchat';

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

async function rotateKey(args: string[]): Promise<void> {
  const batchSize = batchSizeOption(args);
  const cfg = config();
  // Run from the wrong folder, it would create an empty database (and keys) and report success.
  if (cfg.database.kind === 'sqlite' && cfg.database.path !== ':memory:' && !existsSync(resolve(cfg.database.path))) {
    throw new ConfigError('DATABASE_URL', `there is no database at ${resolve(cfg.database.path)}: run rotate-key where the server runs, or set DATABASE_URL`, 'DATABASE_URL=sqlite:./data/realchat.db');
  }
  const logger = createLogger({ level: cfg.logLevel, format: cfg.logFormat });
  const ring = atRestKeyRing(resolveKeys(cfg, logger), cfg.encryptionKeysPrevious);
  const database = openDatabase(cfg.database);
  try {
    await migrateToLatest(database);
    const repository = new MessagesRepository(database.db, database.kind);
    const result = await rotateMessageKeys(repository, ring, {
      batchSize,
      onProgress: ({ done, total }) => console.log(`Re-encrypted ${done} of ${total} messages.`),
    });
    // Said before any "Done", which would read as success.
    if (result.unreadable.length > 0) {
      throw new Error(
        `${result.unreadable.length} messages are sealed with a key that is neither STORAGE_KEY, ENCRYPTION_KEY nor in ENCRYPTION_KEYS_PREVIOUS ` +
          `(first ids: ${result.unreadable.slice(0, 10).join(', ')}); add that key to ENCRYPTION_KEYS_PREVIOUS and run again`,
      );
    }
    if (result.total === 0) console.log(`Every message is already sealed with the current key (${ring.currentKeyId}).`);
    else console.log(`Done: ${result.done} messages re-encrypted under key ${ring.currentKeyId}.`);
  } finally {
    await database.close();
  }
}

function batchSizeOption(args: string[]): number {
  const { values } = commandOptions('rotate-key', args, { 'batch-size': { type: 'string' } });
  if (values['batch-size'] === undefined) return 500;
  const size = Number(values['batch-size']);
  if (!Number.isInteger(size) || size < 1 || size > 10_000) {
    throw new UsageError(`realchat rotate-key: --batch-size must be a whole number from 1 to 10000, not "${values['batch-size']}"`);
  }
  return size;
}

/** A command's options, strictly: an unknown option or a stray argument stops it, named. */
function commandOptions(command: string, args: string[], options: NonNullable<ParseArgsConfig['options']>): { values: Record<string, string | boolean | undefined> } {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }) as { values: Record<string, string | boolean | undefined> };
  } catch (error) {
    throw new UsageError(`realchat ${command}: ${(error as Error).message.split('\n')[0]}`);
  }
}

/** A command used wrongly: said in one line, with the help, exit 2. */
class UsageError extends Error {}

/** For the commands that take no argument at all. */
function noArguments(command: string, run: () => Promise<void> | void): (args: string[]) => Promise<void> | void {
  return (args) => {
    commandOptions(command, args, {});
    return run();
  };
}

const commands: Record<string, (args: string[]) => Promise<void> | void> = {
  serve: noArguments('serve', serve),
  migrate: noArguments('migrate', migrate),
  keygen: noArguments('keygen', () => console.log(randomBytes(32).toString('base64url') + '=')),
  'rotate-key': rotateKey,
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
    await command(argv.slice(1));
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`${error.message}\n\n${HELP}`);
      process.exitCode = 2;
      return;
    }
    const problem = isDatabaseUnusable(error) ? new ConfigError('DATABASE_URL', `cannot use the database: ${(error as Error).message}`, DATABASE_EXAMPLE) : error;
    if (problem instanceof ConfigError) {
      console.error(`realchat: configuration error: ${problem.message}`);
      process.exitCode = 2;
      return;
    }
    console.error(`realchat: ${(error as Error).message}`);
    process.exitCode = 1;
  }
}

await main(process.argv.slice(2));
