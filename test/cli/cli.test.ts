import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generateKey } from '../../src/crypto/keys.js';
import { bareEnvironment, runCli, startServe } from '../helpers/cli.js';
import { describeEachDatabase, createPostgresSchema, redisUrl } from '../helpers/databases.js';
import { call } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';

const folders: string[] = [];
function emptyFolder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'realchat-cli-'));
  folders.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of folders.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('realchat serve, as the README promises', () => {
  it('starts with no configuration, generates a key once, and keeps users and key across a restart', async () => {
    const dir = emptyFolder();
    const port = await freePort();
    // The only setting is the port, from a .env file, so the test does not take port 8000.
    writeFileSync(join(dir, '.env'), `PORT=${port}\nHOST=127.0.0.1\n`);
    const first = await startServe({ cwd: dir, env: bareEnvironment(), port });
    const keyFile = join(dir, 'data', 'encryption.key');
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(first.output()).toContain('generated a key');
    const key = readFileSync(keyFile, 'utf8');

    const registered = await call(first.url, 'POST', '/accounts/register/', { username: 'alice', email: 'alice@example.org', password: 'a long and quiet river' });
    expect(registered.status).toBe(201);
    const login = await call(first.url, 'POST', '/accounts/login/', { username: 'alice', password: 'a long and quiet river' });
    expect(login.status).toBe(200);
    expect((await call(first.url, 'GET', '/accounts/me/', undefined, { token: login.body.token })).body.username).toBe('alice');
    expect(await first.stop('SIGTERM')).toBe(0);

    const second = await startServe({ cwd: dir, env: bareEnvironment(), port });
    try {
      expect(second.output()).not.toContain('generated a key');
      expect(readFileSync(keyFile, 'utf8')).toBe(key);
      expect((await call(second.url, 'GET', '/accounts/me/', undefined, { token: login.body.token })).status).toBe(200);
      expect((await call(second.url, 'POST', '/accounts/login/', { username: 'alice', password: 'a long and quiet river' })).status).toBe(200);
    } finally {
      expect(await second.stop('SIGINT')).toBe(0);
    }
  });

  it('refuses a production start without ENCRYPTION_KEY, naming the variable', async () => {
    const result = await runCli(['serve'], { cwd: emptyFolder(), env: bareEnvironment({ NODE_ENV: 'production' }) });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('ENCRYPTION_KEY');
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('stops on a bad value with one line naming the variable and an example', async () => {
    const result = await runCli(['serve'], { cwd: emptyFolder(), env: bareEnvironment({ PORT: 'eighty' }) });
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toMatch(/^realchat: configuration error: PORT: .*example: PORT=8000/);
  });

  it('names DATABASE_URL when the database cannot be used, and REDIS_URL when its database number is not one', async () => {
    const unreachable = await runCli(['serve'], { cwd: emptyFolder(), env: bareEnvironment({ PORT: '0', HOST: '127.0.0.1', DATABASE_URL: 'postgres://realchat@127.0.0.1:1/realchat', ENCRYPTION_KEY: generateKey(), STORAGE_KEY: generateKey() }) });
    expect(unreachable.code).toBe(2);
    expect(unreachable.stderr.trim()).toMatch(/^realchat: configuration error: DATABASE_URL: cannot use the database: connect ECONNREFUSED 127\.0\.0\.1:1 \(example: DATABASE_URL=postgres:/);
    expect(unreachable.stderr.trim().split('\n')).toHaveLength(1);
    const notANumber = await runCli(['serve'], { cwd: emptyFolder(), env: bareEnvironment({ PORT: '0', HOST: '127.0.0.1', REDIS_URL: 'redis://127.0.0.1:6379/abc' }) });
    expect(notANumber.code).toBe(2);
    expect(notANumber.stderr.trim()).toMatch(/^realchat: configuration error: REDIS_URL: the database after the host must be a number, not "abc"/);
  });

  it.skipIf(!redisUrl)('names REDIS_URL when the Redis server has no such database, instead of using database 0', async () => {
    const url = new URL(redisUrl!);
    url.pathname = '/99';
    const folder = emptyFolder();
    const result = await runCli(['serve'], { cwd: folder, env: bareEnvironment({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', REDIS_URL: url.toString() }) });
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toMatch(/^realchat: configuration error: REDIS_URL: the Redis server has no database 99/);
    // Refused before any key or database was made.
    expect(existsSync(join(folder, 'data'))).toBe(false);
  });

  it('names PORT when the port is taken, and HOST when it is not an address of this machine', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const port = String((taken.address() as AddressInfo).port);
      const folder = emptyFolder();
      // With Redis too, whose reconnecting client must not keep a failed start alive.
      const inUse = await runCli(['serve'], { cwd: folder, env: bareEnvironment({ PORT: port, HOST: '127.0.0.1', ...(redisUrl ? { REDIS_URL: redisUrl } : {}) }) });
      expect(inUse.code).toBe(2);
      expect(inUse.stderr.trim()).toMatch(new RegExp(`^realchat: configuration error: PORT: port ${port} is already in use.*example: PORT=8000`));
      expect(existsSync(join(folder, 'data'))).toBe(false);
    } finally {
      taken.close();
    }
    // TEST-NET-2 (RFC 5737): a well-formed address that no machine here has.
    const folder = emptyFolder();
    const notOurs = await runCli(['serve'], { cwd: folder, env: bareEnvironment({ PORT: '0', HOST: '198.51.100.7' }) });
    expect(notOurs.code).toBe(2);
    expect(notOurs.stderr.trim()).toMatch(/^realchat: configuration error: HOST: cannot listen on "198\.51\.100\.7".*example: HOST=0\.0\.0\.0/);
    // Refused before any key or database was made.
    expect(existsSync(join(folder, 'data'))).toBe(false);
  });
});

describe('realchat commands', () => {
  it('prints help and the version', async () => {
    const help = await runCli(['--help'], { cwd: emptyFolder() });
    expect(help.code).toBe(0);
    for (const command of ['serve', 'migrate', 'keygen']) expect(help.stdout).toContain(command);
    const version = await runCli(['--version'], { cwd: emptyFolder() });
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('prints a new 32-byte key with keygen', async () => {
    const result = await runCli(['keygen'], { cwd: emptyFolder() });
    const key = result.stdout.trim();
    expect(Buffer.from(key, 'base64url')).toHaveLength(32);
    expect((await runCli(['keygen'], { cwd: emptyFolder() })).stdout.trim()).not.toBe(key);
  });

  it('refuses an unknown command', async () => {
    const result = await runCli(['frobnicate'], { cwd: emptyFolder() });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('unknown command');
  });

  it('refuses a stray argument or an unknown option, naming it, instead of ignoring it', async () => {
    for (const [args, said] of [
      [['serve', 'extra'], "realchat serve: Unexpected argument 'extra'"],
      [['migrate', '--x'], "realchat migrate: Unknown option '--x'"],
      [['rotate-key', '--bogus'], "realchat rotate-key: Unknown option '--bogus'"],
      [['rotate-key', '--batch-size', '0'], 'realchat rotate-key: --batch-size must be a whole number from 1 to 10000, not "0"'],
    ] as const) {
      const result = await runCli([...args], { cwd: emptyFolder() });
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr.split('\n')[0], args.join(' ')).toContain(said);
    }
  });

  it('refuses rotate-key where there is no database, instead of creating one and reporting success', async () => {
    const dir = emptyFolder();
    const result = await runCli(['rotate-key'], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toMatch(/^realchat: configuration error: DATABASE_URL: there is no database at /);
    expect(existsSync(join(dir, 'data'))).toBe(false);
  });
});

describeEachDatabase('realchat migrate', (database) => {
  it('is safe to run twice and from several processes at once', async () => {
    const dir = emptyFolder();
    const postgres = database === 'postgres' ? await createPostgresSchema() : undefined;
    const env = bareEnvironment({ DATABASE_URL: postgres?.url ?? `sqlite:${join(dir, 'db.sqlite')}` });
    try {
      const together = await Promise.all([1, 2, 3].map(() => runCli(['migrate'], { cwd: dir, env })));
      for (const result of together) expect(result.code, result.stderr).toBe(0);
      expect(together.filter((r) => r.stdout.startsWith('Applied')).length).toBe(1);
      const again = await runCli(['migrate'], { cwd: dir, env });
      expect(again.code).toBe(0);
      expect(again.stdout).toContain('up to date');
    } finally {
      await postgres?.drop();
    }
  });
});
