// The floor: the least server that does what a local send must (a hashed token's lookup, the
// receiver's lookup, the text sealed with AES-256-GCM, the message and both members' rows
// committed durably in a group commit), with nothing else: no hooks, no logging, no feed, no
// events. Measured against the bare Fastify yardstick with the same autocannon settings as
// messages.mjs's local case, it says what ratio any implementation of the send can reach here.
// Run:  node bench/floor.mjs   (BENCH_SECONDS=10, BENCH_CONNECTIONS=50; FLOOR_VARIANT=insert-only
// skips the members' rows, =no-write the whole write; FLOOR_CACHE=1 answers lookups from memory)
import { createCipheriv, createHash, randomBytes, randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import SQLite from 'better-sqlite3';
import Fastify from 'fastify';
import { bareFastifyRate } from './bare-fastify.mjs';
import { cpuSeconds, freePort } from './serve.mjs';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const VARIANT = process.env.FLOOR_VARIANT ?? 'full';
const CACHE = process.env.FLOOR_CACHE === '1';
// A UUIDv7's bytes: new ids land at the end of their index.
const timeOrdered = () => {
  const id = Buffer.from(randomUUID().replaceAll('-', ''), 'hex');
  id.writeUIntBE(Date.now(), 0, 6);
  return id;
};
const hash = (token) => createHash('sha256').update(token).digest();

function open(file) {
  const db = new SQLite(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(`
    create table if not exists users (id integer primary key, username text not null unique collate nocase);
    create table if not exists tokens (hash blob primary key, user_id integer not null) without rowid;
    create table if not exists conversations (id integer primary key, low integer not null, high integer not null, unique (low, high));
    create table if not exists members (conversation_id integer not null, user_id integer not null, last_message_id integer, unread integer not null default 0, primary key (conversation_id, user_id)) without rowid;
    create table if not exists messages (id integer primary key, uuid blob not null unique, conversation_id integer not null, sender_id integer not null, body blob not null, created_at integer not null);
    create index if not exists messages_conversation on messages (conversation_id, id);`);
  return db;
}

function serve(file, port) {
  const db = open(file);
  const key = randomBytes(32);
  const userOf = db.prepare('select user_id from tokens where hash = ?').pluck();
  const idOf = db.prepare('select id from users where username = ?').pluck();
  const conversationOf = db.prepare('select id from conversations where low = ? and high = ?').pluck();
  const newConversation = db.prepare('insert into conversations (low, high) values (?, ?)');
  const insertMessage = db.prepare('insert into messages (uuid, conversation_id, sender_id, body, created_at) values (?, ?, ?, ?, ?)');
  const touchMember = db.prepare(`insert into members (conversation_id, user_id, last_message_id, unread) values (?, ?, ?, ?)
    on conflict (conversation_id, user_id) do update set last_message_id = excluded.last_message_id, unread = unread + excluded.unread`);
  // FLOOR_CACHE=1: every lookup answered from memory after its first time (a floor below any real server's).
  const cache = new Map();
  const remembered = (key, find) => {
    if (!CACHE) return find();
    if (!cache.has(key)) cache.set(key, find());
    return cache.get(key);
  };
  const seal = (text) => {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    const sealed = Buffer.concat([iv, cipher.update(text, 'utf8'), cipher.final()]);
    return Buffer.concat([sealed, cipher.getAuthTag()]);
  };
  // One transaction for every send that arrived in the same turn of the event loop.
  let pending = [];
  const commit = db.transaction((sends) => {
    for (const send of sends) {
      if (VARIANT === 'no-write') { send.id = 1; continue; }
      const id = insertMessage.run(send.uuid, send.conversation, send.sender, send.body, send.at).lastInsertRowid;
      send.id = Number(id);
      if (VARIANT === 'insert-only') continue;
      touchMember.run(send.conversation, send.sender, id, 0);
      touchMember.run(send.conversation, send.receiver, id, 1);
    }
  });
  const flush = () => {
    const sends = pending;
    pending = [];
    try {
      commit(sends);
      for (const send of sends) send.resolve({ message: 'Message sent successfully', id: send.id, status: 'delivered', timestamp: new Date(send.at).toISOString() });
    } catch (error) {
      for (const send of sends) send.reject(error);
    }
  };
  const app = Fastify();
  app.post('/accounts/send-message/', (request, reply) => {
    const token = String(request.headers.authorization).slice(6);
    const sender = remembered(`token:${token}`, () => userOf.get(hash(token)));
    if (sender === undefined) return reply.code(401).send({ detail: 'Invalid token.', code: 'invalid_token' });
    const receiver = remembered(`user:${request.body.receiver}`, () => idOf.get(request.body.receiver));
    if (receiver === undefined) return reply.code(404).send({ detail: 'No such receiver.', code: 'unknown_receiver' });
    const [low, high] = sender < receiver ? [sender, receiver] : [receiver, sender];
    const conversation = remembered(`pair:${low}:${high}`, () => conversationOf.get(low, high) ?? Number(newConversation.run(low, high).lastInsertRowid));
    return new Promise((resolve, reject) => {
      if (pending.length === 0) setImmediate(flush);
      pending.push({ resolve, reject, sender, receiver, conversation, uuid: timeOrdered(), body: seal(request.body.message), at: Date.now() });
    }).then((answer) => reply.code(201).send(answer));
  });
  return app.listen({ port, host: '127.0.0.1' });
}

if (process.argv[2] === 'serve') {
  await serve(process.argv[3], Number(process.argv[4]));
  process.stdout.write('ready\n');
} else {
  const yardstick = await bareFastifyRate({ connections: CONNECTIONS, seconds: SECONDS });
  const dir = mkdtempSync(join(tmpdir(), 'realchat-floor-'));
  const file = join(dir, 'floor.db');
  const db = open(file);
  const tokens = [];
  for (let n = 0; n < CONNECTIONS; n += 1) {
    const token = randomBytes(20).toString('hex');
    const sender = Number(db.prepare('insert into users (username) values (?)').run(`s${n}`).lastInsertRowid);
    db.prepare('insert into users (username) values (?)').run(`r${n}`);
    db.prepare('insert into tokens (hash, user_id) values (?, ?)').run(hash(token), sender);
    tokens.push(token);
  }
  db.close();
  const port = await freePort();
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'serve', file, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve) => child.stdout.once('data', resolve));
  let next = 0;
  const before = { server: cpuSeconds(child.pid), loop: cpuSeconds(child.pid, true), tool: cpuSeconds(process.pid) };
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: CONNECTIONS,
    duration: SECONDS,
    requests: [{ method: 'POST', path: '/accounts/send-message/' }],
    setupClient: (client) => {
      const n = next++ % tokens.length;
      client.setHeaders({ 'content-type': 'application/json', authorization: `Token ${tokens[n]}` });
      client.setBody(JSON.stringify({ message: 'Hello, World! A benchmark message of ordinary length.', receiver: `r${n}` }));
    },
  });
  const total = result.requests.total;
  const perMessage = (seconds) => Math.round((seconds * 1e6) / total);
  const spent = { server: cpuSeconds(child.pid) - before.server, loop: cpuSeconds(child.pid, true) - before.loop, tool: cpuSeconds(process.pid) - before.tool };
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
  rmSync(dir, { recursive: true, force: true });
  console.log(JSON.stringify({
    yardstick: { bareFastifyPerSecond: yardstick.perSecond, p99Ms: yardstick.p99Ms },
    floor: {
      messagesPerSecond: Math.round(result.requests.average),
      p99Ms: result.latency.p99,
      non2xx: result.non2xx,
      cpuMicrosecondsPerMessage: { server: perMessage(spent.server), serverEventLoop: perMessage(spent.loop), loadTool: perMessage(spent.tool) },
      rateToYardstick: Math.round((100 * result.requests.average) / yardstick.perSecond) / 100,
    },
  }, null, 2));
}
