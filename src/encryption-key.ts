// Resolves ENCRYPTION_KEY: the configured one, or a key generated once into data/encryption.key
// so that a first start needs no set-up (config refuses this in production).
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from './config.js';

export const KEY_FILE_NAME = 'encryption.key';

export function resolveEncryptionKey(config: Config, logger: Logger): string {
  if (config.encryptionKey) return config.encryptionKey;
  const file = join(config.keyDir, KEY_FILE_NAME);
  try {
    const existing = readFileSync(file, 'utf8').trim();
    if (Buffer.from(existing, 'base64url').length === 32) return existing;
    throw new Error(`${file} does not hold a valid key; remove it or set ENCRYPTION_KEY`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(config.keyDir, { recursive: true });
  const key = randomBytes(32).toString('base64url') + '=';
  try {
    // 'wx' fails if another process created the file first; then its key is the one to use.
    writeFileSync(file, key + '\n', { mode: 0o600, flag: 'wx' });
    chmodSync(file, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return readFileSync(file, 'utf8').trim();
    throw error;
  }
  logger.warn({ file }, 'ENCRYPTION_KEY is not set: generated a key into the data folder. Back it up; set ENCRYPTION_KEY in production.');
  return key;
}
