// Messages at rest: sealed with AES-256-GCM under STORAGE_KEY's at-rest key (a key no peer has),
// bound to their row, never stored or logged in the clear; what earlier versions sealed under
// ENCRYPTION_KEY's stays readable and is re-sealed by `realchat rotate-key`.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyRing, openAtRest, AtRestDecryptionError } from '../../src/crypto/aead.js';
import { decodeKey } from '../../src/crypto/keys.js';
import { openDatabase, type Database } from '../../src/db/database.js';
import { createLogger } from '../../src/logger.js';
import { peerChange, peerRequest, postAsPeer } from '../federation/peer-requests.js';
import { newKey, startTestApp, type TestApp } from '../helpers/app.js';
import { startBackends, type Backend } from '../helpers/backends.js';
import { bareEnvironment, MAIN, runCli } from '../helpers/cli.js';
import { describeEachDatabase } from '../helpers/databases.js';
import { call, registerUser, type RegisteredUser } from '../helpers/http.js';

async function storedBodies(database: Database): Promise<Map<number, string>> {
  const rows = await database.db.selectFrom('messages').select(['id', 'body']).orderBy('id').execute();
  return new Map(rows.map((row) => [row.id, row.body]));
}

describeEachDatabase('messages at rest', (database) => {
  const logLines: string[] = [];
  let app: TestApp;
  let alice: RegisteredUser;
  let bob: RegisteredUser;
  let db: Database;

  beforeAll(async () => {
    const logs = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logLines.push(chunk.toString());
        done();
      },
    });
    app = await startTestApp({ database, env: { LOG_LEVEL: 'trace', STORAGE_KEY: newKey() }, logger: createLogger({ level: 'trace', format: 'json' }, logs) });
    [alice, bob] = await Promise.all([registerUser(app.url), registerUser(app.url)]);
    db = openDatabase(app.config.database);
  });
  afterAll(async () => {
    await db.close();
    await app.destroy();
  });

  it("stores only a sealed form under STORAGE_KEY's key, never ENCRYPTION_KEY's, that names its key and opens only for its own row", async () => {
    const secret = 'the cake is in the second drawer';
    const first = await call(app.url, 'POST', '/accounts/send-message/', { message: secret, receiver: bob.username }, { token: alice.token });
    const second = await call(app.url, 'POST', '/accounts/send-message/', { message: 'another', receiver: bob.username }, { token: alice.token });

    const ring = new KeyRing(decodeKey(app.env.STORAGE_KEY!));
    const peerKeyRing = new KeyRing(decodeKey(app.env.ENCRYPTION_KEY!));
    const bodies = await storedBodies(db);
    const body = bodies.get(first.body.id)!;
    expect(body).toMatch(new RegExp(`^v1\\.${ring.currentKeyId}\\.[A-Za-z0-9_-]+$`));
    expect(() => openAtRest(peerKeyRing, body, String(first.body.id))).toThrow(AtRestDecryptionError);
    expect(body).not.toContain('cake');
    expect(openAtRest(ring, body, String(first.body.id))).toBe(secret);
    // Copied onto another row, the ciphertext no longer opens.
    expect(() => openAtRest(ring, body, String(second.body.id))).toThrow(AtRestDecryptionError);

    const everything = await db.db.selectFrom('messages').selectAll().execute();
    expect(JSON.stringify(everything)).not.toContain('cake');
    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.join('\n')).not.toContain('cake');
  });
});

describeEachDatabase('realchat rotate-key', (database) => {
  let backend: Backend;
  let alice: RegisteredUser;
  let bob: RegisteredUser;
  const texts: string[] = [];

  beforeAll(async () => {
    [backend] = await startBackends(database, ['a'], { start: false });
    // Earlier versions sealed messages under ENCRYPTION_KEY's at-rest key, which is what a
    // STORAGE_KEY equal to it derives.
    await backend.start({ STORAGE_KEY: backend.env.ENCRYPTION_KEY });
    [alice, bob] = await Promise.all([registerUser(backend.url), registerUser(backend.url)]);
    for (let i = 0; i < 30; i++) {
      texts.push(`message number ${i}`);
      const sent = await call(backend.url, 'POST', '/accounts/send-message/', { message: texts[i], receiver: bob.username }, { token: alice.token });
      expect(sent.status).toBe(201);
    }
    await backend.stop();
  });
  afterAll(() => backend.destroy());

  // ENCRYPTION_KEY is given (with PostgreSQL it is never generated): an unrelated one unless a test names it.
  function rotate(args: string[], keys: Record<string, string>) {
    const env = bareEnvironment({ DATABASE_URL: backend.env.DATABASE_URL!, LOG_LEVEL: 'warn', ENCRYPTION_KEY: newKey(), ...keys });
    return runCli(['rotate-key', ...args], { cwd: backend.dir, env });
  }

  /** Starts the backend with these keys, and reads the whole conversation. */
  async function readAllWith(keys: Record<string, string>): Promise<string[]> {
    await backend.start({ ENCRYPTION_KEY: newKey(), ENCRYPTION_KEYS_PREVIOUS: '', ...keys });
    try {
      const history = await call(backend.url, 'GET', `/accounts/messages/?with=${alice.username}&limit=200`, undefined, { token: bob.token });
      expect(history.status).toBe(200);
      return history.body.results.map((m: { message: string }) => m.message).reverse();
    } finally {
      await backend.stop();
    }
  }

  it('reads messages earlier versions sealed under ENCRYPTION_KEY, or under a key listed in ENCRYPTION_KEYS_PREVIOUS', async () => {
    const oldKey = backend.env.ENCRYPTION_KEY!;
    expect(await readAllWith({ STORAGE_KEY: newKey(), ENCRYPTION_KEY: oldKey })).toEqual(texts);
    expect(await readAllWith({ STORAGE_KEY: newKey(), ENCRYPTION_KEYS_PREVIOUS: `${newKey()},${oldKey}` })).toEqual(texts);
    backend.env.ENCRYPTION_KEY = oldKey;
  });

  it('refuses to start, in one line naming STORAGE_KEY, when the stored messages open under no configured key', async () => {
    const env = bareEnvironment({ DATABASE_URL: backend.env.DATABASE_URL!, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', STORAGE_KEY: newKey(), ENCRYPTION_KEY: newKey() });
    const run = await runCli(['serve'], { cwd: backend.dir, env, timeoutMs: 20_000 });
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/^realchat: the stored messages open under none of the configured keys .*STORAGE_KEY/);
  });

  it("re-encrypts every message under STORAGE_KEY in batches, after which ENCRYPTION_KEY's old key is not needed", async () => {
    const oldKey = backend.env.ENCRYPTION_KEY!;
    const newer = newKey();
    const run = await rotate(['--batch-size', '7'], { STORAGE_KEY: newer, ENCRYPTION_KEY: oldKey });

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout.split('\n').filter((line) => line.startsWith('Re-encrypted'))).toEqual([
      'Re-encrypted 7 of 30 messages.',
      'Re-encrypted 14 of 30 messages.',
      'Re-encrypted 21 of 30 messages.',
      'Re-encrypted 28 of 30 messages.',
      'Re-encrypted 30 of 30 messages.',
    ]);
    expect(run.stdout).toContain(`Done: 30 messages re-encrypted under key ${new KeyRing(decodeKey(newer)).currentKeyId}.`);
    expect(await readAllWith({ STORAGE_KEY: newer })).toEqual(texts);

    const again = await rotate([], { STORAGE_KEY: newer });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('Every message is already sealed with the current key');
  });

  it('finishes after an interruption when run again (the old STORAGE_KEY listed in ENCRYPTION_KEYS_PREVIOUS)', async () => {
    const previous = backend.env.STORAGE_KEY!;
    const newest = newKey();
    const keys = { STORAGE_KEY: newest, ENCRYPTION_KEYS_PREVIOUS: previous };
    const child = spawn(process.execPath, [MAIN, 'rotate-key', '--batch-size', '1'], {
      cwd: backend.dir,
      env: bareEnvironment({ DATABASE_URL: backend.env.DATABASE_URL!, ENCRYPTION_KEY: newKey(), ...keys }),
    });
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('Re-encrypted')) child.kill('SIGKILL');
      });
      child.on('exit', () => resolve());
    });

    const rerun = await rotate(['--batch-size', '4'], keys);
    expect(rerun.code).toBe(0);
    // On a loaded machine the kill can land after the last batch; then there is nothing left.
    // Either way the second run must not start over.
    const remaining = /of (\d+) messages/.exec(rerun.stdout)?.[1];
    if (remaining === undefined) expect(rerun.stdout).toContain('already sealed with the current key');
    else expect(Number(remaining)).toBeLessThan(30);
    expect(await readAllWith({ STORAGE_KEY: newest })).toEqual(texts);
  });

  it('names the messages no configured key opens, and exits non-zero', async () => {
    const run = await rotate([], { STORAGE_KEY: newKey(), ENCRYPTION_KEY: newKey() });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/30 messages are sealed with a key that is neither STORAGE_KEY, ENCRYPTION_KEY nor in ENCRYPTION_KEYS_PREVIOUS/);
  });

  it('refuses a bad batch size', async () => {
    const run = await rotate(['--batch-size', 'many'], { ENCRYPTION_KEY: newKey() });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--batch-size');
  });
});

describeEachDatabase("realchat rotate-key and a peer's repeated requests", (database) => {
  let a: Backend;
  let key: string;
  let editId: string;
  let ref: string;

  beforeAll(async () => {
    [a] = await startBackends(database, ['a', 'b'], { start: false });
    // As an earlier version would have sealed them: under ENCRYPTION_KEY's at-rest key.
    await a.start({ STORAGE_KEY: a.env.ENCRYPTION_KEY });
    key = a.peers.find((peer) => peer.name === 'b')!.key;
    await registerUser(a.url, 'bob');
    const message = peerRequest({ key, origin: 'b', destination: 'a', receiver: 'bob', text: 'from b' });
    expect((await postAsPeer(a.url, message)).status).toBe(200);
    ref = message.id!;
    editId = randomUUID();
    expect(await postAsPeer(a.url, peerChange(key, ['b', 'a'], { op: 'edit', ref, id: editId, text: 'the text now' }))).toMatchObject({ status: 200 });
    await a.stop();
  });
  afterAll(() => a.destroy());

  it('answers a repeated edit or delivery with the text now, under the new key only', async () => {
    const newer = newKey();
    const env = bareEnvironment({ DATABASE_URL: a.env.DATABASE_URL!, LOG_LEVEL: 'warn', STORAGE_KEY: newer, ENCRYPTION_KEY: a.env.ENCRYPTION_KEY! });
    const run = await runCli(['rotate-key'], { cwd: a.dir, env });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Re-encrypted 1 of 1 messages.');

    await a.start({ STORAGE_KEY: newer, ENCRYPTION_KEY: newKey(), ENCRYPTION_KEYS_PREVIOUS: '' });
    const repeated = await postAsPeer(a.url, peerChange(key, ['b', 'a'], { op: 'edit', ref, id: editId, text: 'sent again, differently' }));
    expect(repeated).toMatchObject({ status: 200, body: { message: 'the text now' } });
    const delivery = await postAsPeer(a.url, peerRequest({ key, origin: 'b', destination: 'a', receiver: 'bob', id: ref, text: 'sent again' }));
    expect(delivery).toMatchObject({ status: 200, body: { message: 'the text now' } });
    await a.stop();
  });
});

describe('realchat --help', () => {
  it('lists rotate-key', async () => {
    const run = await runCli(['--help'], { cwd: process.cwd() });
    expect(run.stdout).toContain('rotate-key');
  });
});
