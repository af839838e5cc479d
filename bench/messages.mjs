// Messages benchmark: send-message over HTTP (autocannon) against `realchat serve` on SQLite,
// (a) to a receiver on the same backend, (b) to a receiver on a second local backend, where a
// send answers `delivered` only once the peer has stored the message. 50 and 200 connections;
// each connection is one sender writing to its own receiver (federation keeps order per
// receiver, so one receiver could take one message at a time). A federated case runs until b has
// stored every message a accepted, and checks each was stored once; every rate is also given as a
// ratio to the bare Fastify yardstick measured in the same run.
// Run after `npm run build`:  node bench/messages.mjs   (BENCH_SECONDS=10 by default)
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import SQLite from 'better-sqlite3';
import { bareFastifyRate } from './bare-fastify.mjs';
import { cpuSeconds, freePort, register, spawnServe } from './serve.mjs';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = (process.env.BENCH_CONNECTIONS ?? '50,200').split(',').map(Number);
const CASES = (process.env.BENCH_CASES ?? 'local,federated').split(',');

const newKey = () => randomBytes(32).toString('base64url') + '=';

async function startBackend(name, port, peers) {
  const dir = mkdtempSync(join(tmpdir(), `realchat-bench-${name}-`));
  const { child, url } = await spawnServe({
    cwd: dir,
    port,
    env: {
      LOG_LEVEL: 'warn',
      // Registrations come from one address here; X-Forwarded-For keeps the abuse limits out of the way.
      TRUST_PROXY: 'true',
      // The bench sends as fast as it can: the per-user send budget would measure itself.
      SEND_RATE: 'off',
      SERVER_NAME: name,
      ENCRYPTION_KEY: newKey(),
      PEERS: JSON.stringify(peers),
    },
  });
  return {
    url,
    dir,
    cpuSeconds: () => cpuSeconds(child.pid),
    mainThreadSeconds: () => cpuSeconds(child.pid, true),
    // The most resident memory the server has had so far (VmHWM), in MB.
    peakRssMb: () => Math.round(Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))[1]) / 1024),
    count: () => {
      const db = new SQLite(join(dir, 'data', 'realchat.db'), { readonly: true });
      try {
        return db.prepare('select count(*) as n from messages').get().n;
      } finally {
        db.close();
      }
    },
    // Messages a peer delivered, and how many distinct ids they came under: equal when each was stored once.
    received: () => {
      const db = new SQLite(join(dir, 'data', 'realchat.db'), { readonly: true });
      try {
        return db.prepare('select count(*) as n, count(distinct uuid) as distinct_ids from messages where sender_user_id is null').get();
      } finally {
        db.close();
      }
    },
    stop: () => {
      child.kill('SIGTERM');
      return new Promise((resolve) => child.on('exit', resolve));
    },
  };
}

/** Registers `count` users on each side, a few at a time (argon2id is slow on purpose). */
async function users(senderUrl, receiverUrl, count, prefix) {
  const senders = [];
  const receivers = [];
  for (let i = 0; i < count; i += 8) {
    const batch = Array.from({ length: Math.min(8, count - i) }, (_, j) => i + j);
    const tokens = await Promise.all(batch.map((n) => register(senderUrl, `${prefix}s${n}`)));
    senders.push(...tokens);
    await Promise.all(batch.map((n) => register(receiverUrl, `${prefix}r${n}`)));
    receivers.push(...batch.map((n) => `${prefix}r${n}`));
  }
  return { senders, receivers };
}

function load(url, connections, { senders, receivers }, receiverSuffix) {
  let next = 0;
  const statuses = { delivered: 0, queued: 0, failed: 0, other: 0 };
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url,
        connections,
        duration: SECONDS,
        requests: [
          {
            method: 'POST',
            path: '/accounts/send-message/',
            onResponse: (status, body) => {
              if (status !== 201) statuses.other += 1;
              else statuses[JSON.parse(body).status] += 1;
            },
          },
        ],
        setupClient: (client) => {
          const n = next++ % senders.length;
          client.setHeaders({ 'content-type': 'application/json', authorization: `Token ${senders[n]}` });
          client.setBody(JSON.stringify({ message: 'Hello, World! A benchmark message of ordinary length.', receiver: receivers[n] + receiverSuffix }));
        },
      },
      (error, result) => (error ? reject(error) : resolve({ result, statuses })),
    );
  });
}

/** Runs the load and measures the CPU time each process (and each server's event loop) spent on it. */
async function measured(backends, run) {
  const clocks = { loadTool: () => cpuSeconds(process.pid) };
  for (const [name, backend] of Object.entries(backends)) {
    clocks[name] = backend.cpuSeconds;
    clocks[`${name}EventLoop`] = backend.mainThreadSeconds;
  }
  const before = Object.fromEntries(Object.entries(clocks).map(([name, cpu]) => [name, cpu()]));
  const started = performance.now();
  const outcome = await run();
  const wallSeconds = (performance.now() - started) / 1000;
  const spent = Object.fromEntries(Object.entries(clocks).map(([name, cpu]) => [name, cpu() - before[name]]));
  return { ...outcome, spent, wallSeconds };
}

function summary({ result, statuses, spent, wallSeconds }, extra = {}) {
  const total = result.requests.total;
  // CPU per message of each process (the bench process is the load tool); on 2 cores the sum caps
  // the rate, and a server's event loop (one thread) caps it at 1 s of CPU per second.
  const cpuPerMessage = Object.fromEntries(
    Object.entries(spent)
      .filter(([name]) => !name.endsWith('EventLoop'))
      .map(([name, seconds]) => [name, Math.round((seconds * 1e6) / total)]),
  );
  const eventLoopBusy = Object.fromEntries(
    Object.entries(spent)
      .filter(([name]) => name.endsWith('EventLoop'))
      .map(([name, seconds]) => [name.replace('EventLoop', ''), `${Math.round((100 * seconds) / wallSeconds)} %`]),
  );
  return {
    messagesPerSecond: Math.round(result.requests.average),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    maxMs: result.latency.max,
    errors: result.errors + result.timeouts,
    statuses,
    cpuMicrosecondsPerMessage: cpuPerMessage,
    eventLoopBusy,
    ...extra,
  };
}

// The machine's yardstick: a bare Fastify handler under the same autocannon, in the same run; the
// targets are ratios to it (BENCH_CALIBRATE=0 skips it, when comparing builds on one machine).
const yardstick = process.env.BENCH_CALIBRATE === '0' ? undefined : await bareFastifyRate({ connections: 50, seconds: SECONDS });
const report = yardstick ? { yardstick: { bareFastifyPerSecond: yardstick.perSecond, p99Ms: yardstick.p99Ms } } : {};
const ratio = (value, of) => (of ? Math.round((100 * value) / of) / 100 : undefined);
const [portA, portB] = [await freePort(), await freePort()];
const key = newKey();
const a = await startBackend('a', portA, [{ name: 'b', url: `http://127.0.0.1:${portB}`, key }]);
const b = await startBackend('b', portB, [{ name: 'a', url: `http://127.0.0.1:${portA}`, key }]);

/** a's transactions to b so far, from its /metrics: how many, their items and their answer times summed. */
async function transactionsToB() {
  const text = await (await fetch(`${a.url}/metrics`)).text();
  const value = (name) => Number(new RegExp(`^${name}\\{peer="b"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  return { count: value('realchat_federation_transaction_items_count'), items: value('realchat_federation_transaction_items_sum'), seconds: value('realchat_federation_transaction_seconds_sum') };
}

/** Waits until b has stored `expected` messages from peers (the queued ones arrive after the load), up to a minute. */
async function drained(expected) {
  const deadline = Date.now() + 60_000;
  while (b.received().n < expected && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  return performance.now();
}

try {
  for (const connections of CONNECTIONS) {
    if (CASES.includes('local')) {
      const people = await users(a.url, a.url, connections, `l${connections}`);
      const run = await measured({ a }, () => load(a.url, connections, people, ''));
      report[`local, ${connections} connections`] = summary(run, {
        rateToYardstick: ratio(run.result.requests.average, yardstick?.perSecond),
        p99ToYardstick: ratio(run.result.latency.p99, yardstick?.p99Ms),
      });
    }
    if (CASES.includes('federated')) {
      const people = await users(a.url, b.url, connections, `f${connections}`);
      const before = b.received().n;
      const transactionsBefore = await transactionsToB();
      const started = performance.now();
      const run = await measured({ a, b }, async () => {
        const loaded = await load(a.url, connections, people, '@b');
        // End to end: the load, then until b has stored every message a accepted (CPU counted until then).
        const accepted = loaded.statuses.delivered + loaded.statuses.queued;
        return { ...loaded, accepted, drainedAt: await drained(before + accepted) };
      });
      const after = b.received();
      const stored = after.n - before;
      const transactionsAfter = await transactionsToB();
      const transactions = transactionsAfter.count - transactionsBefore.count;
      const endToEnd = Math.round(stored / ((run.drainedAt - started) / 1000));
      report[`federated a -> b, ${connections} connections`] = summary(run, {
        storedOnB: stored,
        acceptedByA: run.accepted,
        // Requests still in flight when the load stopped are stored too, unanswered: up to one per connection.
        everyMessageStoredOnce: stored >= run.accepted && stored <= run.accepted + connections && after.n === after.distinct_ids,
        endToEndStoredPerSecond: endToEnd,
        // One transaction in flight to b at a time: how full they were, and how long each took to be answered.
        transactions: {
          count: transactions,
          itemsPerTransaction: Math.round((transactionsAfter.items - transactionsBefore.items) / transactions),
          meanAnswerMs: Math.round((10_000 * (transactionsAfter.seconds - transactionsBefore.seconds)) / transactions) / 10,
        },
        rateToYardstick: ratio(endToEnd, yardstick?.perSecond),
      });
    }
  }
  report.peakRssMb = { a: a.peakRssMb(), b: b.peakRssMb() };
} finally {
  await Promise.all([a.stop(), b.stop()]);
  rmSync(a.dir, { recursive: true, force: true });
  rmSync(b.dir, { recursive: true, force: true });
}
console.log(JSON.stringify(report, null, 2));
