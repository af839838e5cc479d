// Real-time benchmark: delivery latency from send-message answered to the `message` event on
// the receiver's socket, p50/p99, at a fixed send rate with 1,000 and 10,000 connected clients
// (one socket per user), and the server's memory per idle connection. The server is
// `realchat serve` on SQLite in a child process; clients and senders are this process.
// Run through bench/realtime.sh (it raises the file-descriptor limit), after `npm run build`.
//   BENCH_CLIENTS=1000,10000  BENCH_RATE=1000 (messages/s)  BENCH_SECONDS=10
// With BENCH_DATABASE_URL (postgres://) and BENCH_REDIS_URL, two instances share them: the
// sockets are on the first, the messages are sent through the second.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import WebSocket from 'ws';
import { freePort, spawnServe } from './serve.mjs';

const CLIENTS = (process.env.BENCH_CLIENTS ?? '1000,10000').split(',').map(Number).sort((a, b) => a - b);
const RATE = Number(process.env.BENCH_RATE ?? 1000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const PASSWORD = 'a long and quiet river';
const TEXT = 'Hello, World! A benchmark message of ordinary length.';
const DATABASE_URL = process.env.BENCH_DATABASE_URL;
const REDIS_URL = process.env.BENCH_REDIS_URL;
const TICK_MS = 5;
const MAX_IN_FLIGHT = 1000;

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

/** A small JSON request over a keep-alive agent (fetch costs more per call at this rate). */
function post(url, path, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const req = request(url + path, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...headers } }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(Buffer.concat(chunks).toString() || 'null') }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** A fresh PostgreSQL schema for the two-instance run, reached through search_path. */
async function createSchema() {
  const schema = `bench_${randomBytes(4).toString('hex')}`;
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  await client.query(`create schema ${schema}`);
  await client.end();
  const url = new URL(DATABASE_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    url: url.toString(),
    drop: async () => {
      const admin = new pg.Client({ connectionString: DATABASE_URL });
      await admin.connect();
      await admin.query(`drop schema if exists ${schema} cascade`);
      await admin.end();
    },
  };
}

async function startServer(shared = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'realchat-bench-realtime-'));
  const port = await freePort();
  const { child, url } = await spawnServe({
    cwd: dir,
    port,
    env: {
      LOG_LEVEL: 'warn',
      // Each bench user registers from an address of its own, so the abuse limits stay out of the way.
      TRUST_PROXY: 'true',
      // The bench sends as fast as it can: the per-user send budget would measure itself.
      SEND_RATE: 'off',
      ...shared,
    },
    // The server's log (warnings and errors only) goes to this script's stderr.
    stdio: ['ignore', process.stderr, 'inherit'],
  });
  return {
    url,
    rssBytes: () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))[1]) * 1024,
    heapUsedBytes: async () => Number(/^nodejs_heap_size_used_bytes (\S+)$/m.exec(await (await fetch(`${url}/metrics`)).text())[1]),
    openSockets: async () => Number(/^realchat_websocket_connections (\S+)$/m.exec(await (await fetch(`${url}/metrics`)).text())[1]),
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.on('exit', resolve));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Registers users a few at a time: argon2id is slow on purpose. */
async function registerUsers(url, from, to, users) {
  const prefix = randomBytes(3).toString('hex');
  for (let i = from; i < to; i += 16) {
    const batch = Array.from({ length: Math.min(16, to - i) }, (_, j) => i + j);
    await Promise.all(
      batch.map(async (n) => {
        const username = `rt${prefix}u${n}`;
        const address = `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
        const answer = await post(url, '/accounts/register/', { username, email: `${username}@example.org`, password: PASSWORD }, { 'x-forwarded-for': address });
        if (answer.status !== 201) throw new Error(`register ${username}: ${answer.status} ${JSON.stringify(answer.body)}`);
        users[n] = { username, token: answer.body.token, socket: undefined };
      }),
    );
    if ((i / 16) % 64 === 0) process.stderr.write(`\rregistered ${i + batch.length}/${to}   `);
  }
  process.stderr.write('\n');
}

/** Connects one socket per user; each records when a message addressed to its user arrives. */
async function connectUsers(url, users, from, to, arrivals) {
  const wsUrl = url.replace(/^http/, 'ws') + '/ws';
  for (let i = from; i < to; i += 250) {
    const batch = users.slice(i, Math.min(to, i + 250));
    await Promise.all(
      batch.map(
        (user) =>
          new Promise((resolve, reject) => {
            const socket = new WebSocket(wsUrl, { headers: { authorization: `Token ${user.token}` }, perMessageDeflate: false });
            socket.on('message', (data) => {
              const at = performance.now();
              const event = JSON.parse(data.toString());
              if (event.type === 'message' && event.message.receiver === user.username) arrivals.set(event.message.id, at);
            });
            socket.once('open', () => {
              user.socket = socket;
              resolve();
            });
            socket.once('error', reject);
            socket.on('close', (code) => {
              if (!stopping && code !== 1005) console.error(`socket of ${user.username} closed: ${code}`);
            });
          }),
      ),
    );
  }
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const round = (ms) => Math.round(ms * 100) / 100;

/** The server's own histogram of send-message times: bucket upper bound (s) -> count. */
async function sendMessageBuckets(url) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const buckets = new Map();
  const pattern = /^http_request_duration_seconds_bucket\{le="([^"]+)",method="POST",route="\/accounts\/send-message\/",status_code="201"\} (\d+)$/gm;
  for (const [, le, count] of text.matchAll(pattern)) buckets.set(le, Number(count));
  return buckets;
}

/** The bucket bound under which p% of the requests between two scrapes finished, as the server timed them. */
function serverPercentile(before, after, p) {
  const total = (after.get('+Inf') ?? 0) - (before.get('+Inf') ?? 0);
  for (const [le, count] of after) {
    if (count - (before.get(le) ?? 0) >= (p / 100) * total) return le === '+Inf' ? '> 5 s' : `≤ ${Number(le) * 1000} ms`;
  }
  return 'none';
}

/** Sends at RATE messages/s between random pairs of connected users for `seconds`. */
async function measureLatency(url, users, connected, arrivals, seconds = SECONDS) {
  arrivals.clear();
  const bucketsBefore = await sendMessageBuckets(url);
  const sends = [];
  let inFlight = 0;
  let skipped = 0;
  let errors = 0;
  const total = RATE * seconds;
  const perTick = (RATE * TICK_MS) / 1000;
  const started = performance.now();
  let due = 0;
  await new Promise((resolve) => {
    const timer = setInterval(() => {
      // Open loop: what is due by now is sent now, whatever the answers so far.
      const target = Math.min(total, Math.floor(((performance.now() - started) / TICK_MS) * perTick));
      for (; due < target; due++) {
        if (inFlight >= MAX_IN_FLIGHT) {
          skipped++;
          continue;
        }
        const from = users[Math.floor(Math.random() * connected)];
        let to = users[Math.floor(Math.random() * connected)];
        if (to === from) to = users[(users.indexOf(from) + 1) % connected];
        const sentAt = performance.now();
        inFlight++;
        post(url, '/accounts/send-message/', { message: TEXT, receiver: to.username }, { authorization: `Token ${from.token}` }).then(
          (answer) => {
            inFlight--;
            if (answer.status === 201) sends.push({ id: answer.body.id, sentAt, answeredAt: performance.now() });
            else errors++;
          },
          () => {
            inFlight--;
            errors++;
          },
        );
      }
      if (due >= total) {
        clearInterval(timer);
        resolve();
      }
    }, TICK_MS);
  });
  const elapsed = (performance.now() - started) / 1000;
  const deadline = performance.now() + 5000;
  while ((inFlight > 0 || sends.some((send) => !arrivals.has(send.id))) && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));

  const fromAnswer = [];
  const fromSend = [];
  const answer = [];
  let beforeAnswer = 0;
  let missing = 0;
  for (const send of sends) {
    answer.push(send.answeredAt - send.sentAt);
    const at = arrivals.get(send.id);
    if (at === undefined) {
      missing++;
      continue;
    }
    if (at < send.answeredAt) beforeAnswer++;
    fromAnswer.push(Math.max(0, at - send.answeredAt));
    fromSend.push(at - send.sentAt);
  }
  for (const list of [fromAnswer, fromSend, answer]) list.sort((a, b) => a - b);
  const bucketsAfter = await sendMessageBuckets(url);
  return {
    messagesPerSecond: Math.round(sends.length / elapsed),
    delivered: fromAnswer.length,
    missingEvents: missing,
    skippedOverInFlightCap: skipped,
    httpErrors: errors,
    eventBeforeAnswer: beforeAnswer,
    answeredToEventP50Ms: round(percentile(fromAnswer, 50)),
    answeredToEventP99Ms: round(percentile(fromAnswer, 99)),
    answeredToEventMaxMs: round(fromAnswer.at(-1) ?? NaN),
    sendToEventP50Ms: round(percentile(fromSend, 50)),
    sendToEventP99Ms: round(percentile(fromSend, 99)),
    sendAnswerP50Ms: round(percentile(answer, 50)),
    sendAnswerP99Ms: round(percentile(answer, 99)),
    serverTimedSendP50: serverPercentile(bucketsBefore, bucketsAfter, 50),
    serverTimedSendP99: serverPercentile(bucketsBefore, bucketsAfter, 99),
    loadAverage1m: Math.round(loadavg()[0] * 100) / 100,
  };
}

async function settledMemory(server) {
  // Let the connection burst's garbage go before reading.
  await new Promise((resolve) => setTimeout(resolve, 3000));
  return { rss: server.rssBytes(), heap: await server.heapUsedBytes() };
}

let stopping = false;
const shared = { ENCRYPTION_KEY: randomBytes(32).toString('base64url') + '=' };
const schema = DATABASE_URL && REDIS_URL ? await createSchema() : undefined;
if (schema) Object.assign(shared, { DATABASE_URL: schema.url, REDIS_URL, SERVER_NAME: `bench${randomBytes(3).toString('hex')}` });
const server = await startServer(shared);
// The instance messages are sent through: the same one, or a second one sharing PostgreSQL and Redis.
const sender = schema ? await startServer(shared) : server;
const report = { rate: RATE, seconds: SECONDS, instances: schema ? 'two (PostgreSQL + Redis): sockets on one, sends through the other' : 'one (SQLite)', cases: {} };
try {
  const users = [];
  const max = CLIENTS.at(-1);
  await registerUsers(server.url, 0, max, users);
  const arrivals = new Map();
  // Memory first, while every socket is idle: connect in steps, reading the server's memory at each.
  const baseline = await settledMemory(server);
  const memory = new Map();
  let connected = 0;
  for (const clients of CLIENTS) {
    await connectUsers(server.url, users, connected, clients, arrivals);
    connected = clients;
    const now = await settledMemory(server);
    const open = await server.openSockets();
    if (open !== clients) throw new Error(`the server counts ${open} sockets, expected ${clients}`);
    memory.set(clients, {
      serverRssPerIdleConnectionKB: Math.round(((now.rss - baseline.rss) / clients / 1024) * 10) / 10,
      serverHeapPerIdleConnectionKB: Math.round(((now.heap - baseline.heap) / clients / 1024) * 10) / 10,
      serverRssMB: Math.round(now.rss / 1024 / 1024),
    });
  }
  // Then latency, from the most clients down, closing sockets between cases.
  for (const clients of [...CLIENTS].reverse()) {
    for (const user of users.slice(clients, connected)) user.socket.close();
    connected = clients;
    const deadline = performance.now() + 30_000;
    while ((await server.openSockets()) !== clients && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    process.stderr.write(`${clients} clients connected; measuring ${SECONDS} s at ${RATE} messages/s\n`);
    // A short run first, so the figures are of a warm server (JIT, pools, caches).
    await measureLatency(sender.url, users, connected, arrivals, 2);
    report.cases[`${clients} clients`] = { ...memory.get(clients), ...(await measureLatency(sender.url, users, connected, arrivals)) };
  }
  stopping = true;
  for (const user of users) user.socket?.terminate();
} finally {
  stopping = true;
  agent.destroy();
  await server.stop();
  if (sender !== server) await sender.stop();
  await schema?.drop();
}
console.log(JSON.stringify(report, null, 2));
