// The write path of sending alone, in this process: MessagesRepository.writeBatch on a SQLite
// file, for group commits of several sizes, each message a local one with its two conversation
// summaries and feed entries (the text is not sealed here). Far steadier than the HTTP benches,
// so it tells apart two builds of the database code on a noisy machine.
// Run after `npm run build`:  node bench/write-batch.mjs   (BENCH_DIST=<other build> to compare)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const DIST = pathToFileURL(resolve(process.env.BENCH_DIST ?? new URL('../dist', import.meta.url).pathname)).href;
const SIZES = (process.env.BENCH_SIZES ?? '1,10,50,200').split(',').map(Number);
const MESSAGES_PER_SIZE = Number(process.env.BENCH_MESSAGES ?? 10_000);

const { openDatabase } = await import(`${DIST}/db/database.js`);
const { migrateToLatest } = await import(`${DIST}/db/migrate.js`);
const { MessagesRepository } = await import(`${DIST}/messages/repository.js`);

const dir = mkdtempSync(join(tmpdir(), 'realchat-write-batch-'));
const database = openDatabase({ kind: 'sqlite', path: join(dir, 'realchat.db') });
try {
  await migrateToLatest(database);
  for (const name of ['alice', 'bob']) {
    await database.db
      .insertInto('users')
      .values({ username: name, username_key: name, email: `${name}@example.org`, email_key: `${name}@example.org`, password_hash: 'x', date_joined: 0 })
      .execute();
  }
  const repository = new MessagesRepository(database.db, 'sqlite');
  let next = 0;
  const message = () => ({
    uuid: `bench-${next++}`,
    pair: 'u:1|u:2',
    senderUserId: 1,
    receiverUserId: 2,
    sender: 'alice',
    receiver: 'bob',
    peer: null,
    text: 'Hello, World! A benchmark message of ordinary length.',
    status: 'delivered',
    clientId: null,
    conversations: [
      { userId: 1, partnerKey: 'u:2', partner: 'bob', unread: false },
      { userId: 2, partnerKey: 'u:1', partner: 'alice', unread: true },
    ],
    notify: [1, 2],
  });
  const write = (size) => repository.writeBatch(Array.from({ length: size }, message), { now: Date.now(), seal: (text) => text, claim: { by: 'bench', until: 0 } });

  const report = {};
  for (const size of SIZES) {
    const batches = Math.max(1, Math.round(MESSAGES_PER_SIZE / size));
    for (let i = 0; i < Math.min(batches, 100); i++) await write(size);
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    for (let i = 0; i < batches; i++) await write(size);
    const cpu = process.cpuUsage(cpuBefore);
    const messages = batches * size;
    // Wall time is the event loop's (the checkpoint runs in a worker); CPU counts both threads.
    report[`${size} per transaction`] = {
      wallMicrosecondsPerMessage: Number((((performance.now() - started) * 1000) / messages).toFixed(1)),
      cpuMicrosecondsPerMessage: Number(((cpu.user + cpu.system) / messages).toFixed(1)),
    };
  }
  console.log(JSON.stringify(report, null, 2));
} finally {
  await database.close();
  rmSync(dir, { recursive: true, force: true });
}
