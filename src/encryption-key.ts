// Resolves the two keys of a backend: ENCRYPTION_KEY (shared with a peer in the original's set-up)
// and STORAGE_KEY (messages at rest; no peer has it). Each is the configured one, or one generated
// once into a file beside the database, so that a first start needs no set-up and the same
// database finds the same keys from any working directory.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ConfigError, EXAMPLE_KEY, type Config } from './config.js';
import { KeyRing } from './crypto/aead.js';
import { decodeKey, generateKey, isKey } from './crypto/keys.js';

export const KEY_FILE_NAME = 'encryption.key';
export const STORAGE_KEY_FILE_NAME = 'storage.key';

export interface BackendKeys {
  encryptionKey: string;
  storageKey: string;
}

export function resolveKeys(config: Config, logger: Logger): BackendKeys {
  // A PostgreSQL database has no folder to keep a key beside: one generated in the working
  // directory would be this instance's alone, and another instance of the same database would
  // seal with its own (config.md: generated keys never live in the working directory). Only a
  // key file an earlier version generated there is still read.
  const generate = config.database.kind === 'sqlite';
  return {
    encryptionKey: config.encryptionKey ?? generatedKey(config.keyDir, KEY_FILE_NAME, 'ENCRYPTION_KEY', generate, logger),
    storageKey: config.storageKey ?? generatedKey(config.keyDir, STORAGE_KEY_FILE_NAME, 'STORAGE_KEY', generate, logger),
  };
}

/**
 * The keys of messages at rest: STORAGE_KEY seals; ENCRYPTION_KEY's and ENCRYPTION_KEYS_PREVIOUS's
 * only open, for data earlier versions sealed under ENCRYPTION_KEY until `realchat rotate-key` moves it.
 */
export function atRestKeyRing(keys: BackendKeys, previous: readonly string[]): KeyRing {
  return new KeyRing(decodeKey(keys.storageKey), [keys.encryptionKey, ...previous].map(decodeKey));
}

function generatedKey(dir: string, name: string, variable: string, generate: boolean, logger: Logger): string {
  const file = join(dir, name);
  try {
    const existing = readFileSync(file, 'utf8').trim();
    if (isKey(existing)) return existing;
    throw new Error(`${file} does not hold a valid key; remove it or set ${variable}`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (!generate) throw new ConfigError(variable, 'must be set with PostgreSQL, the same for every instance of the database (`realchat keygen` prints one)', `${variable}=${EXAMPLE_KEY}`);
  mkdirSync(dir, { recursive: true });
  const key = generateKey();
  try {
    // 'wx' fails if another process created the file first; then its key is the one to use.
    writeFileSync(file, key + '\n', { mode: 0o600, flag: 'wx' });
    chmodSync(file, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return readFileSync(file, 'utf8').trim();
    throw error;
  }
  logger.warn({ file }, `${variable} is not set: generated a key into ${file}. Back it up with the database; set ${variable} in production.`);
  return key;
}
