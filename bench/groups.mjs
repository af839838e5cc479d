// Group fan-out benchmark (issue 16), in one run: the yardstick, a bare `ws` server
// (bench/bare-ws.mjs, its own process) broadcasting each frame to BENCH_MEMBERS open sockets, and
// `realchat serve` on SQLite with a group of BENCH_MEMBERS members, each with one open socket,
// its owner sending to it over HTTP. Both run the same closed loop from this process:
// BENCH_IN_FLIGHT messages outstanding, a message done when the last member's socket has its
// event, and the next one sent then; the frames are the same size and both sides parse them.
// The two take turns, BENCH_SECONDS each, for BENCH_ROUNDS rounds (the machine is shared: turns
// spread its noise over both). Reports socket deliveries per second, the ratio of RealChat's
// median to the yardstick's (the target: at least 0.40), and the time from send to the
// last member's event (p50, p99).
// Run after `npm run build`:  node bench/groups.mjs
// (BENCH_SECONDS=10, BENCH_ROUNDS=3, BENCH_MEMBERS=1000, BENCH_IN_FLIGHT=4)
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { cpuSeconds, freePort, register, spawnServe } from './serve.mjs';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const MEMBERS = Number(process.env.BENCH_MEMBERS ?? 1000);
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 4);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const TEXT = 'Hello, group! A benchmark message of ordinary length';
// Sockets opened (and users registered) this many at a time.
const CONNECT_BATCH = 50;
const REGISTER_BATCH = 16;

/** The message number a frame carries (`… #n` at the end of its text); undefined for other frames. */
const numberOf = (frame) => (frame.type === 'message' ? Number(/#(\d+)$/.exec(frame.message.message)?.[1]) : undefined);

async function openSockets(url, count, headersOf = () => ({})) {
  const sockets = [];
  for (let start = 0; start < count; start += CONNECT_BATCH) {
    const batch = Array.from({ length: Math.min(CONNECT_BATCH, count - start) }, (_, i) => {
      const socket = new WebSocket(url, { headers: headersOf(start + i) });
      return new Promise((resolve, reject) => {
        socket.once('open', () => resolve(socket));
        socket.once('error', reject);
      });
    });
    sockets.push(...(await Promise.all(batch)));
  }
  return sockets;
}

/** Resolves once no socket has had a frame for `quietMs` (RealChat's presence news after a thousand connects). */
function quiet(sockets, quietMs = 1000) {
  return new Promise((resolve) => {
    let timer;
    const listener = () => {
      clearTimeout(timer);
      timer = setTimeout(done, quietMs);
    };
    const done = () => {
      for (const socket of sockets) socket.off('message', listener);
      resolve();
    };
    for (const socket of sockets) socket.on('message', listener);
    listener();
  });
}

/**
 * The closed loop: `send(n)` starts message n; each socket's frame of n is one delivery; n is
 * done when every socket has it, and then the next message goes, until `SECONDS` have passed.
 */
// Message numbers go on across turns, so that a late frame of one turn never counts in the next.
let next = 0;

function fanOut(sockets, send) {
  return new Promise((resolve, reject) => {
    const pending = new Map();
    const latencies = [];
    let deliveries = 0;
    const started = performance.now();
    const start = () => {
      const n = next++;
      pending.set(n, { at: performance.now(), count: 0 });
      send(n).catch(reject);
    };
    const listener = (data) => {
      const n = numberOf(JSON.parse(data.toString()));
      const entry = n === undefined ? undefined : pending.get(n);
      if (!entry) return;
      deliveries += 1;
      if (++entry.count < sockets.length) return;
      pending.delete(n);
      latencies.push(performance.now() - entry.at);
      if (performance.now() - started < SECONDS * 1000) start();
      else if (pending.size === 0) {
        const seconds = (performance.now() - started) / 1000;
        for (const socket of sockets) socket.off('message', listener);
        latencies.sort((a, b) => a - b);
        const at = (q) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] * 10) / 10;
        resolve({ messages: latencies.length, deliveriesPerSecond: Math.round(deliveries / seconds), p50Ms: at(0.5), p99Ms: at(0.99), maxMs: at(1) });
      }
    };
    for (const socket of sockets) socket.on('message', listener);
    for (let i = 0; i < IN_FLIGHT; i++) start();
  });
}

/** Runs `work`, adding the CPU seconds per message the server process and this one spent. */
async function withCpu(serverPid, work) {
  const before = [cpuSeconds(serverPid), cpuSeconds(process.pid)];
  const result = await work();
  const per = (spent) => Math.round((spent * 1e6) / result.messages);
  return { ...result, cpuMicrosecondsPerMessage: { server: per(cpuSeconds(serverPid) - before[0]), clients: per(cpuSeconds(process.pid) - before[1]) } };
}

/** The bare ws server with its sockets open: `measure()` runs one turn. */
async function startYardstick() {
  const port = await freePort();
  const child = spawn(process.execPath, [fileURLToPath(new URL('./bare-ws.mjs', import.meta.url))], { env: { PATH: process.env.PATH, PORT: String(port) }, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => {
    child.stdout.once('data', resolve);
    child.once('exit', (code) => reject(new Error(`the bare ws server exited with ${code}`)));
  });
  const sockets = await openSockets(`ws://127.0.0.1:${port}/`, MEMBERS);
  const [sender] = await openSockets(`ws://127.0.0.1:${port}/send`, 1);
  // RealChat's event for the same message, byte for byte in size.
  const group = randomBytes(16).toString('hex').replace(/^(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-');
  const frame = (n) =>
    JSON.stringify({
      type: 'message',
      seq: 1_000_000 + n,
      message: { id: 1_000_000 + n, sender: 'member0', receiver: null, group, message: `${TEXT} #${n}`, timestamp: new Date().toISOString(), status: 'delivered', read_at: null, edited_at: null, deleted: false },
    });
  return {
    measure: () => withCpu(child.pid, () => fanOut(sockets, async (n) => sender.send(frame(n)))),
    stop: () => {
      for (const socket of [...sockets, sender]) socket.terminate();
      child.kill('SIGTERM');
    },
  };
}

/** RealChat with its users, their group and one socket each: `measure()` runs one turn. */
async function startRealchat() {
  const dir = mkdtempSync(join(tmpdir(), 'realchat-bench-groups-'));
  const { child, url } = await spawnServe({
    cwd: dir,
    port: await freePort(),
    env: { LOG_LEVEL: 'warn', TRUST_PROXY: 'true', SEND_RATE: 'off', ENCRYPTION_KEY: randomBytes(32).toString('base64url') + '=' },
  });
  const stop = async () => {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const tokens = [];
    for (let start = 0; start < MEMBERS; start += REGISTER_BATCH) {
      const batch = Array.from({ length: Math.min(REGISTER_BATCH, MEMBERS - start) }, (_, i) => register(url, `member${start + i}`));
      tokens.push(...(await Promise.all(batch)));
    }
    const owner = { 'content-type': 'application/json', authorization: `Token ${tokens[0]}` };
    const created = await fetch(`${url}/accounts/groups/`, {
      method: 'POST',
      headers: owner,
      body: JSON.stringify({ name: 'Benchmark', members: tokens.slice(1).map((_, i) => `member${i + 1}`) }),
    });
    if (created.status !== 201) throw new Error(`creating the group: ${created.status} ${await created.text()}`);
    const group = (await created.json()).id;
    const sockets = await openSockets(`${url.replace('http', 'ws')}/ws`, MEMBERS, (i) => ({ authorization: `Token ${tokens[i]}` }));
    await quiet(sockets);
    const send = async (n) => {
      const response = await fetch(`${url}/accounts/send-message/`, { method: 'POST', headers: owner, body: JSON.stringify({ message: `${TEXT} #${n}`, group }) });
      if (response.status !== 201) throw new Error(`send: ${response.status} ${await response.text()}`);
      await response.arrayBuffer();
    };
    return {
      measure: () => withCpu(child.pid, () => fanOut(sockets, send)),
      stop: async () => {
        for (const socket of sockets) socket.terminate();
        await stop();
      },
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const yardstick = await startYardstick();
const ours = await startRealchat();
const turns = { yardstickBareWs: [], realchat: [] };
try {
  for (let round = 0; round < ROUNDS; round++) {
    turns.yardstickBareWs.push(await yardstick.measure());
    turns.realchat.push(await ours.measure());
  }
} finally {
  yardstick.stop();
  await ours.stop();
}
const summary = (runs) => ({
  deliveriesPerSecond: median(runs.map((run) => run.deliveriesPerSecond)),
  p50Ms: median(runs.map((run) => run.p50Ms)),
  p99Ms: median(runs.map((run) => run.p99Ms)),
  turns: runs,
});
const [bare, realchat] = [summary(turns.yardstickBareWs), summary(turns.realchat)];
console.log(
  JSON.stringify({ members: MEMBERS, inFlight: IN_FLIGHT, yardstickBareWs: bare, realchat, ratio: Math.round((100 * realchat.deliveriesPerSecond) / bare.deliveriesPerSecond) / 100 }, null, 2),
);
