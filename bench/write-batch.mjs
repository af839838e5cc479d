// The write path of sending alone, in this process: MessageWriter (the group commit of
// messages/write.ts) on a SQLite file, for group commits of several sizes, each message a local
// one in a direct conversation, with its members' rows and feed entries (the text is not sealed
// here; no message goes to a peer, so the outbox is never called). The messages go round
// BENCH_PAIRS conversations (50, as the HTTP bench's 50 connections): each batch then touches a
// page per conversation in every index, as a server's does; one conversation would hide that cost
// (a third of it). Far steadier than the HTTP benches, so it tells apart two builds of the
// database code on a noisy machine.
// Run after `npm run build`:  node bench/write-batch.mjs   (BENCH_DIST=<other build> to compare)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const DIST = pathToFileURL(resolve(process.env.BENCH_DIST ?? new URL('../dist', import.meta.url).pathname)).href;
const SIZES = (process.env.BENCH_SIZES ?? '1,10,50,200').split(',').map(Number);
const MESSAGES_PER_SIZE = Number(process.env.BENCH_MESSAGES ?? 10_000);
const PAIRS = Number(process.env.BENCH_PAIRS ?? 50);

const { openDatabase } = await import(`${DIST}/db/database.js`);
const { migrateToLatest } = await import(`${DIST}/db/migrate.js`);
const { MessagesRepository } = await import(`${DIST}/messages/repository.js`);
const { MessageWriter } = await import(`${DIST}/messages/write.js`);
const { ConversationsRepository } = await import(`${DIST}/conversations/repository.js`);
const { DirectConversations } = await import(`${DIST}/conversations/direct.js`);
const { FeedRepository } = await import(`${DIST}/feed/repository.js`);
const { RequestReceiptsRepository } = await import(`${DIST}/federation/request-receipts.js`);

const dir = mkdtempSync(join(tmpdir(), 'realchat-write-batch-'));
const database = openDatabase({ kind: 'sqlite', path: join(dir, 'realchat.db') });
try {
  await migrateToLatest(database);
  const names = Array.from({ length: 2 * PAIRS }, (_, index) => `user${index}`);
  for (const name of names) {
    await database.db
      .insertInto('users')
      .values({ username: name, username_key: name, email: `${name}@example.org`, email_key: `${name}@example.org`, password_hash: 'x', date_joined: 0 })
      .execute();
  }
  const { db } = database;
  const conversations = new ConversationsRepository(db, 'sqlite');
  const stores = {
    db,
    kind: 'sqlite',
    messages: new MessagesRepository(db, 'sqlite'),
    conversations,
    direct: new DirectConversations(conversations),
    feed: new FeedRepository(db, 'sqlite'),
    receipts: new RequestReceiptsRepository(db, 'sqlite'),
    outbox: { enqueue: () => Promise.reject(new Error('no message of this bench goes to a peer')) },
  };
  const writer = new MessageWriter(stores, (text) => text, Date.now);
  const user = (index) => ({ kind: 'local', userId: index + 1, username: names[index] });
  let next = 0;
  // Pair k is user 2k writing to user 2k + 1; uuids grow, as time-ordered ones do.
  const message = () => {
    const pair = next % PAIRS;
    const uuid = `bench-${String(next++).padStart(12, '0')}`;
    return { uuid, sender: user(2 * pair), receiver: user(2 * pair + 1), text: 'Hello, World! A benchmark message of ordinary length.', clientId: null };
  };
  // Submitted in one tick, they go in one group commit (up to the batcher's 200).
  const write = (size) => Promise.all(Array.from({ length: size }, () => writer.submit(message())));

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
