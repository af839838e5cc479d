// The SQLite database holds password hashes and sealed messages: its file, WAL and shared
// memory file are readable by their owner only.
import { chmodSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { registerUser } from '../helpers/http.js';

const FILES = ['realchat.db', 'realchat.db-wal', 'realchat.db-shm'];

function modes(dir: string): Record<string, string> {
  return Object.fromEntries(FILES.map((name) => [name, (statSync(join(dir, name)).mode & 0o777).toString(8)]));
}

describe('SQLite file modes', () => {
  let app: TestApp;

  afterEach(() => app.destroy());

  it('creates the database, its WAL and its shared memory file 0600', async () => {
    app = await startTestApp();
    await registerUser(app.url);
    expect(modes(app.dir)).toEqual({ 'realchat.db': '600', 'realchat.db-wal': '600', 'realchat.db-shm': '600' });
  });

  it('makes an existing world-readable database 0600 at start', async () => {
    app = await startTestApp();
    await registerUser(app.url);
    for (const name of FILES) chmodSync(join(app.dir, name), 0o644);
    app = await app.restart();
    await registerUser(app.url);
    expect(modes(app.dir)).toEqual({ 'realchat.db': '600', 'realchat.db-wal': '600', 'realchat.db-shm': '600' });
  });
});
