// Generated keys live beside the database, never in the working directory: the same database
// started from elsewhere finds the same keys; PostgreSQL has no "beside", so there the keys are
// given, and a start without them stops in one line instead of sealing with a key of its own.
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generateKey } from '../../src/crypto/keys.js';
import { bareEnvironment, runCli, startServe } from '../helpers/cli.js';
import { createPostgresSchema, postgresUrl } from '../helpers/databases.js';
import { call, registerUser } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';

const cleanups: Array<() => Promise<void> | void> = [];
function emptyFolder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'realchat-keys-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** Starts `realchat serve` from `cwd`, has alice write to bob, and stops; answers bob and alice. */
async function firstStart(cwd: string, databaseUrl: string, port: number) {
  const server = await startServe({ cwd, env: bareEnvironment({ DATABASE_URL: databaseUrl, PORT: String(port), HOST: '127.0.0.1' }), port });
  try {
    const [alice, bob] = [await registerUser(server.url, 'alice'), await registerUser(server.url, 'bob')];
    expect((await call(server.url, 'POST', '/accounts/send-message/', { message: 'written before the move', receiver: 'bob' }, { token: alice.token })).status).toBe(201);
    return { alice, bob };
  } finally {
    expect(await server.stop()).toBe(0);
  }
}

describe('generated keys with SQLite', () => {
  it('live beside the database (0600), so a start from another working directory reads the same history', async () => {
    const [data, first, second] = [emptyFolder(), emptyFolder(), emptyFolder()];
    const port = await freePort();
    const databaseUrl = `sqlite:${join(data, 'realchat.db')}`;
    const { bob } = await firstStart(first, databaseUrl, port);
    for (const name of ['encryption.key', 'storage.key']) expect(statSync(join(data, name)).mode & 0o777).toBe(0o600);

    const server = await startServe({ cwd: second, env: bareEnvironment({ DATABASE_URL: databaseUrl, PORT: String(port), HOST: '127.0.0.1' }), port });
    try {
      expect(server.output()).not.toContain('generated a key');
      const history = await call(server.url, 'GET', '/accounts/messages/?with=alice', undefined, { token: bob.token });
      expect(history.status).toBe(200);
      expect(history.body.results.map((m: { message: string }) => m.message)).toEqual(['written before the move']);
    } finally {
      expect(await server.stop()).toBe(0);
    }
    expect([first, second].filter((cwd) => existsSync(join(cwd, 'data')))).toEqual([]);
  });
});

describe.skipIf(!postgresUrl)('keys with PostgreSQL', () => {
  it('are never generated: a start without them stops in one line naming the variable, and writes no key file', async () => {
    const schema = await createPostgresSchema();
    cleanups.push(() => schema.drop());
    const cwd = emptyFolder();
    const base = { DATABASE_URL: schema.url, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'error' };
    for (const [env, variable] of [
      [base, 'ENCRYPTION_KEY'],
      [{ ...base, ENCRYPTION_KEY: generateKey() }, 'STORAGE_KEY'],
    ] as const) {
      const run = await runCli(['serve'], { cwd, env: bareEnvironment(env), timeoutMs: 20_000 });
      expect(run.code).toBe(2);
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(run.stderr).toMatch(new RegExp(`^realchat: configuration error: ${variable}: must be set with PostgreSQL`));
    }
    expect(existsSync(join(cwd, 'data'))).toBe(false);
  });

  it('still read the key files an earlier version generated in ./data', async () => {
    const schema = await createPostgresSchema();
    cleanups.push(() => schema.drop());
    const cwd = emptyFolder();
    mkdirSync(join(cwd, 'data'));
    for (const name of ['encryption.key', 'storage.key']) writeFileSync(join(cwd, 'data', name), `${generateKey()}\n`, { mode: 0o600 });
    const { bob } = await firstStart(cwd, schema.url, await freePort());
    const port = await freePort();
    const server = await startServe({ cwd, env: bareEnvironment({ DATABASE_URL: schema.url, PORT: String(port), HOST: '127.0.0.1' }), port });
    try {
      const history = await call(server.url, 'GET', '/accounts/messages/?with=alice', undefined, { token: bob.token });
      expect(history.body.results.map((m: { message: string }) => m.message)).toEqual(['written before the move']);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});
