// Group fan-out benchmark (issues 16 and 18), in one run. BENCH_CASES picks the cases
// (default `yardstick,federated`):
// - `yardstick`: a bare `ws` server (bench/bare-ws.mjs, its own process) broadcasting each frame
//   to BENCH_MEMBERS open sockets, against `realchat serve` on SQLite with a group of
//   BENCH_MEMBERS members, each with one open socket, its owner sending to it over HTTP. Reports
//   socket deliveries per second and the ratio of RealChat's median to the yardstick's (issue
//   16's target: at least 0.40).
// - `federated`: a group of BENCH_FEDERATED_MEMBERS members spread evenly over three peered
//   `realchat serve` (a, its home, b and c), one socket per member on its own backend, members
//   on a and on b sending in turn; beside it the same group on one backend. Reports group
//   messages per second end to end (a message is done when every member's socket has it, so it
//   is stored on all three) and the ratio federated / one backend (issue 18's target: at least
//   1/3).
// Every case runs the same closed loop from this process: BENCH_IN_FLIGHT messages outstanding,
// a message done when the last member's socket has its event, and the next one sent then. The
// two sides of a case take turns, BENCH_SECONDS each, for BENCH_ROUNDS rounds (the machine is
// shared: turns spread its noise over both). Each side reports the time from send to the last
// member's event (p50, p99).
// Run after `npm run build`:  node bench/groups.mjs
// (BENCH_SECONDS=10, BENCH_ROUNDS=3, BENCH_MEMBERS=1000, BENCH_FEDERATED_MEMBERS=300, BENCH_IN_FLIGHT=4)
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
const FEDERATED_MEMBERS = Number(process.env.BENCH_FEDERATED_MEMBERS ?? 300);
const CASES = (process.env.BENCH_CASES ?? 'yardstick,federated').split(',');
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

// A message that has not reached every socket this long after the last one did is lost: the run
// stops and says which sockets lack it, rather than waiting for ever.
const STALL_MS = 15_000;

function fanOut(sockets, send) {
  return new Promise((resolve, reject) => {
    const pending = new Map();
    const latencies = [];
    let deliveries = 0;
    let progressAt = performance.now();
    const started = performance.now();
    const start = () => {
      const n = next++;
      pending.set(n, { at: performance.now(), got: new Set() });
      send(n).catch(reject);
    };
    const finish = (result) => {
      clearInterval(watchdog);
      sockets.forEach((socket, index) => socket.off('message', listeners[index]));
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    const onFrame = (index, data) => {
      const n = numberOf(JSON.parse(data.toString()));
      const entry = n === undefined ? undefined : pending.get(n);
      if (!entry || entry.got.has(index)) return;
      deliveries += 1;
      entry.got.add(index);
      if (entry.got.size < sockets.length) return;
      pending.delete(n);
      progressAt = performance.now();
      latencies.push(performance.now() - entry.at);
      if (performance.now() - started < SECONDS * 1000) start();
      else if (pending.size === 0) {
        const seconds = (performance.now() - started) / 1000;
        latencies.sort((a, b) => a - b);
        const at = (q) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] * 10) / 10;
        finish({ messages: latencies.length, messagesPerSecond: Math.round(latencies.length / seconds), deliveriesPerSecond: Math.round(deliveries / seconds), p50Ms: at(0.5), p99Ms: at(0.99), maxMs: at(1) });
      }
    };
    const watchdog = setInterval(() => {
      if (performance.now() - progressAt < STALL_MS) return;
      const [n, entry] = [...pending].sort(([x], [y]) => x - y)[0];
      const lacking = sockets.filter((_, index) => !entry.got.has(index));
      const names = lacking.map((socket, index) => socket.who ?? `socket ${index}`);
      const said = `message #${n} reached ${entry.got.size} of ${sockets.length} sockets in ${STALL_MS} ms; not: ${names.slice(0, 10).join(', ')}${names.length > 10 ? ', …' : ''}`;
      const probe = lacking[0]?.probe;
      if (!probe) return finish(new Error(said));
      clearInterval(watchdog);
      probe().then((stored) => finish(new Error(`${said}; ${names[0]}'s backend has: ${stored}`)), (error) => finish(new Error(`${said}; probe: ${error}`)));
    }, 1000);
    const listeners = sockets.map((socket, index) => (data) => onFrame(index, data));
    sockets.forEach((socket, index) => socket.on('message', listeners[index]));
    for (let i = 0; i < IN_FLIGHT; i++) start();
  });
}

/** Runs `work`, adding the CPU seconds per message the server processes and this one spent. */
async function withCpu(serverPids, work) {
  const serversCpu = () => serverPids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
  const before = [serversCpu(), cpuSeconds(process.pid)];
  const result = await work();
  const per = (spent) => Math.round((spent * 1e6) / result.messages);
  return { ...result, cpuMicrosecondsPerMessage: { server: per(serversCpu() - before[0]), clients: per(cpuSeconds(process.pid) - before[1]) } };
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
    measure: () => withCpu([child.pid], () => fanOut(sockets, async (n) => sender.send(frame(n)))),
    stop: () => {
      for (const socket of [...sockets, sender]) socket.terminate();
      child.kill('SIGTERM');
    },
  };
}

const newKey = () => randomBytes(32).toString('base64url') + '=';

/** `realchat serve` named `name` in a folder of its own, with these peers, on this port (else a free one); `stop()` ends it and removes the folder. */
async function startBackend(name, peers = [], port = undefined) {
  const dir = mkdtempSync(join(tmpdir(), `realchat-bench-groups-${name}-`));
  const { child, url } = await spawnServe({
    cwd: dir,
    port: port ?? (await freePort()),
    env: { LOG_LEVEL: 'warn', TRUST_PROXY: 'true', SEND_RATE: 'off', SERVER_NAME: name, ENCRYPTION_KEY: newKey(), PEERS: JSON.stringify(peers) },
  });
  return {
    name,
    url,
    pid: child.pid,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Registers `count` users named `<prefix><i>` on a backend; resolves with their tokens. */
async function registerMany(url, prefix, count) {
  const tokens = [];
  for (let start = 0; start < count; start += REGISTER_BATCH) {
    const batch = Array.from({ length: Math.min(REGISTER_BATCH, count - start) }, (_, i) => register(url, `${prefix}${start + i}`));
    tokens.push(...(await Promise.all(batch)));
  }
  return tokens;
}

const jsonWith = (token) => ({ 'content-type': 'application/json', authorization: `Token ${token}` });

/** Creates the group on `url` as the owner whose token is given; resolves with its id. */
async function createGroup(url, ownerToken, members) {
  const created = await fetch(`${url}/accounts/groups/`, { method: 'POST', headers: jsonWith(ownerToken), body: JSON.stringify({ name: 'Benchmark', members }) });
  if (created.status !== 201) throw new Error(`creating the group: ${created.status} ${await created.text()}`);
  return (await created.json()).id;
}

/** A sender of message n to the group: the one whose turn it is among `senders` ({url, token}). */
function sendersInTurn(senders, group) {
  return async (n) => {
    const { url, token } = senders[n % senders.length];
    const response = await fetch(`${url}/accounts/send-message/`, { method: 'POST', headers: jsonWith(token), body: JSON.stringify({ message: `${TEXT} #${n}`, group }) });
    if (response.status !== 201) throw new Error(`send on ${url}: ${response.status} ${await response.text()}`);
    await response.arrayBuffer();
  };
}

/** One backend with `count` users, their group and one socket each, sent to by `senderCount` members in turn: `measure()` runs one turn. */
async function startOneBackend(count, senderCount) {
  const backend = await startBackend('localhost');
  try {
    const tokens = await registerMany(backend.url, 'member', count);
    const group = await createGroup(backend.url, tokens[0], tokens.slice(1).map((_, i) => `member${i + 1}`));
    const sockets = await openSockets(`${backend.url.replace('http', 'ws')}/ws`, count, (i) => ({ authorization: `Token ${tokens[i]}` }));
    await quiet(sockets);
    const send = sendersInTurn(tokens.slice(0, senderCount).map((token) => ({ url: backend.url, token })), group);
    return {
      measure: () => withCpu([backend.pid], () => fanOut(sockets, send)),
      stop: async () => {
        for (const socket of sockets) socket.terminate();
        await backend.stop();
      },
    };
  } catch (error) {
    await backend.stop();
    throw error;
  }
}

/**
 * Three peered backends a, b, c with `count` users spread evenly over them, one group homed on a
 * with all of them, one socket each on its own backend; a member on a and one on b send in turn.
 */
async function startFederated(count) {
  const names = ['a', 'b', 'c'];
  const ports = await Promise.all(names.map(() => freePort()));
  const keys = new Map();
  const keyOf = (x, y) => {
    const pair = [x, y].sort().join('|');
    if (!keys.has(pair)) keys.set(pair, newKey());
    return keys.get(pair);
  };
  // Each backend's peers, on the ports chosen above; a backend is started with its port.
  const backends = [];
  const stopAll = () => Promise.all(backends.map((backend) => backend.stop()));
  try {
    for (const [index, name] of names.entries()) {
      const peers = names.flatMap((other, j) => (other === name ? [] : [{ name: other, url: `http://127.0.0.1:${ports[j]}`, key: keyOf(name, other) }]));
      backends.push(await startBackend(name, peers, ports[index]));
    }
    const perBackend = names.map((_, index) => Math.floor(count / names.length) + (index < count % names.length ? 1 : 0));
    const users = [];
    for (const [index, backend] of backends.entries()) {
      const tokens = await registerMany(backend.url, 'member', perBackend[index]);
      users.push(...tokens.map((token, i) => ({ backend, token, name: `member${i}` })));
    }
    const [owner] = users;
    const address = (user) => (user.backend === owner.backend ? user.name : `${user.name}@${user.backend.name}`);
    const group = await createGroup(owner.backend.url, owner.token, users.slice(1).map(address));
    // b and c have their copies once a member of each sees the group with every member.
    for (const backend of backends.slice(1)) await untilGroupShown(backend, users.find((user) => user.backend === backend), group, count);
    const sockets = [];
    for (const backend of backends) {
      const own = users.filter((user) => user.backend === backend);
      const opened = await openSockets(`${backend.url.replace('http', 'ws')}/ws`, own.length, (i) => ({ authorization: `Token ${own[i].token}` }));
      opened.forEach((socket, i) => {
        socket.who = `${own[i].name}@${backend.name}`;
        // What the user's backend has stored of the group, newest first, and their change feed's last events: to tell a lost event from a lost message.
        socket.probe = async () => {
          const history = await (await fetch(`${backend.url}/accounts/messages/?group=${group}&limit=3`, { headers: jsonWith(own[i].token) })).json();
          return history.results.map((message) => `${message.id}:${message.message.slice(-5)}`).join(' ');
        };
      });
      sockets.push(...opened);
    }
    await quiet(sockets);
    const senderOnB = users.find((user) => user.backend === backends[1]);
    const send = sendersInTurn([owner, senderOnB].map((user) => ({ url: user.backend.url, token: user.token })), group);
    return {
      measure: () => withCpu(backends.map((backend) => backend.pid), () => fanOut(sockets, send)),
      stop: async () => {
        for (const socket of sockets) socket.terminate();
        await stopAll();
      },
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** Waits (up to a minute) until `user` sees the group on their backend with `count` members. */
async function untilGroupShown(backend, user, group, count) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const response = await fetch(`${backend.url}/accounts/groups/${group}/`, { headers: jsonWith(user.token) });
    if (response.status === 200 && (await response.json()).members.length === count) return;
    if (Date.now() > deadline) throw new Error(`${backend.name} shows no copy of the group with ${count} members after a minute`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const summary = (runs) => ({
  messagesPerSecond: median(runs.map((run) => run.messagesPerSecond)),
  deliveriesPerSecond: median(runs.map((run) => run.deliveriesPerSecond)),
  p50Ms: median(runs.map((run) => run.p50Ms)),
  p99Ms: median(runs.map((run) => run.p99Ms)),
  turns: runs,
});

/** Starts both sides, runs their turns, stops them; resolves with each side's summary. */
async function compare(startFirst, startSecond) {
  const first = await startFirst();
  const second = await startSecond().catch(async (error) => {
    await first.stop();
    throw error;
  });
  const turns = [[], []];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      turns[0].push(await first.measure());
      turns[1].push(await second.measure());
    }
  } finally {
    await first.stop();
    await second.stop();
  }
  return turns.map(summary);
}

const ratio = (ours, theirs) => Math.round((100 * ours) / theirs) / 100;
const report = { inFlight: IN_FLIGHT };
if (CASES.includes('yardstick')) {
  const [bare, realchat] = await compare(async () => {
    const yardstick = await startYardstick();
    return { measure: yardstick.measure, stop: async () => yardstick.stop() };
  }, () => startOneBackend(MEMBERS, 1));
  report.yardstick = { members: MEMBERS, yardstickBareWs: bare, realchat, ratio: ratio(realchat.deliveriesPerSecond, bare.deliveriesPerSecond) };
}
if (CASES.includes('federated')) {
  const [oneBackend, federated] = await compare(() => startOneBackend(FEDERATED_MEMBERS, 2), () => startFederated(FEDERATED_MEMBERS));
  report.federated = { members: FEDERATED_MEMBERS, oneBackend, threeBackends: federated, ratio: ratio(federated.messagesPerSecond, oneBackend.messagesPerSecond) };
}
console.log(JSON.stringify(report, null, 2));
