// Change feed benchmark: a user with 10,000 events waiting (messages received, and edits of some
// of them) reconnects with `{"type":"auth","after":0}`; how long until the socket has replayed
// them all, checked to be every seq once and in order. Then the same through
// GET /accounts/events/ page by page, and a replay while new messages keep arriving.
// Run after `npm run build`:  node bench/feed.mjs   (BENCH_EVENTS=10000, BENCH_EDITS=2000, BENCH_RUNS=5)
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { freePort, spawnServe } from './serve.mjs';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 10_000);
const EDITS = Number(process.env.BENCH_EDITS ?? 2_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const PASSWORD = 'a long and quiet river';

async function startServer() {
  const dir = mkdtempSync(join(tmpdir(), 'realchat-bench-feed-'));
  const port = await freePort();
  const { child, url } = await spawnServe({ cwd: dir, port, env: { LOG_LEVEL: 'warn', SEND_RATE: 'off', ENCRYPTION_KEY: randomBytes(32).toString('base64url') + '=' } });
  return {
    url,
    stop: () => {
      child.kill('SIGTERM');
      return new Promise((resolve) => child.on('exit', resolve)).then(() => rmSync(dir, { recursive: true, force: true }));
    },
  };
}

async function api(url, method, path, token, body) {
  const response = await fetch(url + path, {
    method,
    headers: { ...(token ? { authorization: `Token ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  if (response.status >= 300) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function register(url, username) {
  return (await api(url, 'POST', '/accounts/register/', null, { username, email: `${username}@example.org`, password: PASSWORD })).token;
}

/** Runs `count` calls, `inFlight` at a time. */
async function many(count, inFlight, call) {
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < count) await call(next++);
    }),
  );
}

/**
 * Opens a socket that replays after `after`. `reached(seq)` resolves with the time once that seq
 * has arrived; `close()` ends it and gives every seq it received.
 */
function replay(url, token, after) {
  const seqs = [];
  const waiting = [];
  const started = performance.now();
  const socket = new WebSocket(url.replace('http', 'ws') + '/ws');
  socket.on('open', () => socket.send(JSON.stringify({ type: 'auth', token, after })));
  socket.on('message', (data) => {
    const frame = JSON.parse(data.toString());
    if (typeof frame.seq !== 'number') return;
    seqs.push(frame.seq);
    for (const wait of waiting.filter((entry) => frame.seq >= entry.seq)) {
      waiting.splice(waiting.indexOf(wait), 1);
      wait.resolve(performance.now() - started);
    }
  });
  return {
    reached: (seq) => new Promise((resolve) => (seqs.some((s) => s >= seq) ? resolve(performance.now() - started) : waiting.push({ seq, resolve }))),
    close: () => {
      socket.close();
      return seqs;
    },
  };
}

function check(seqs, expected) {
  const same = seqs.length === expected.length && seqs.every((seq, index) => seq === expected[index]);
  if (!same) throw new Error(`replayed ${seqs.length} events, expected ${expected.length} (every seq once, in order)`);
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const server = await startServer();
try {
  const [alice, bob] = [await register(server.url, 'alice'), await register(server.url, 'bob')];
  const ids = [];
  await many(EVENTS - EDITS, 50, async () => ids.push((await api(server.url, 'POST', '/accounts/send-message/', bob, { message: 'Hello, World! A benchmark message of ordinary length.', receiver: 'alice' })).id));
  await many(EDITS, 50, (n) => api(server.url, 'PATCH', `/accounts/messages/${ids[n]}/`, bob, { message: `Hello, World! Edited (${n}).` }));

  const expected = [];
  let pages = 0;
  const pagedStarted = performance.now();
  for (let after = 0; after !== null; pages++) {
    const page = await api(server.url, 'GET', `/accounts/events/?after=${after}&limit=500`, alice);
    expected.push(...page.results.map((event) => event.seq));
    after = page.next;
  }
  const pagedMs = performance.now() - pagedStarted;
  if (expected.length !== EVENTS) throw new Error(`the feed holds ${expected.length} events, expected ${EVENTS}`);

  const times = [];
  for (let run = 0; run < RUNS; run++) {
    const socket = replay(server.url, alice, 0);
    times.push(await socket.reached(expected.at(-1)));
    check(socket.close(), expected);
  }

  // The same replay while bob keeps sending (20 in flight), then live: every seq once, none missing.
  let sending = true;
  let sentDuring = 0;
  const writer = many(1_000_000, 20, async () => {
    if (!sending) return;
    await api(server.url, 'POST', '/accounts/send-message/', bob, { message: 'During the replay.', receiver: 'alice' });
    sentDuring += 1;
  });
  await new Promise((resolve) => setTimeout(resolve, 100));
  const during = replay(server.url, alice, 0);
  const duringMs = await during.reached(expected.at(-1));
  await new Promise((resolve) => setTimeout(resolve, 500));
  sending = false;
  await writer;
  const after = [];
  for (let cursor = 0; cursor !== null; ) {
    const page = await api(server.url, 'GET', `/accounts/events/?after=${cursor}&limit=500`, alice);
    after.push(...page.results.map((event) => event.seq));
    cursor = page.next;
  }
  await during.reached(after.at(-1));
  check(during.close(), after);

  console.log(
    JSON.stringify(
      {
        events: EVENTS,
        ofWhichEdits: EDITS,
        socketReplayMs: { median: Math.round(median(times)), min: Math.round(Math.min(...times)), max: Math.round(Math.max(...times)), runs: RUNS },
        socketReplayEventsPerSecond: Math.round(EVENTS / (median(times) / 1000)),
        httpFeedMs: { total: Math.round(pagedMs), pages },
        replayWhileSending: { replayMs: Math.round(duringMs), messagesSentMeanwhile: sentDuring, eventsReceived: after.length, gapsOrDuplicates: 0 },
      },
      null,
      2,
    ),
  );
} finally {
  await server.stop();
}
