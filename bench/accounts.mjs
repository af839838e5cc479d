// Accounts benchmark: argon2id hash time, register and login throughput over HTTP
// (autocannon), and the start-up time and idle memory of `realchat serve`.
// Run after `npm run build`:  node bench/accounts.mjs
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { hashPassword, verifyPassword } from '../dist/accounts/passwords.js';
import { freePort, spawnServe } from './serve.mjs';

const PORT = await freePort();
const URL_BASE = `http://127.0.0.1:${PORT}`;
const PASSWORD = 'a long and quiet river';

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function hashTimes() {
  const hashes = [];
  for (let i = 0; i < 15; i++) {
    const started = performance.now();
    hashes.push({ hash: await hashPassword(PASSWORD), ms: performance.now() - started });
  }
  const verifies = [];
  for (const { hash } of hashes) {
    const started = performance.now();
    await verifyPassword(hash, PASSWORD);
    verifies.push(performance.now() - started);
  }
  return { hashMs: median(hashes.map((h) => h.ms)), verifyMs: median(verifies) };
}

async function startServer(dir) {
  const started = performance.now();
  const { child } = await spawnServe({ cwd: dir, port: PORT, env: { LOG_LEVEL: 'warn', TRUST_PROXY: 'true' } });
  return { child, startupMs: performance.now() - started };
}

function rssKb(pid) {
  return new Promise((resolve) => {
    const ps = spawn('ps', ['-o', 'rss=', '-p', String(pid)]);
    let out = '';
    ps.stdout.on('data', (chunk) => (out += chunk));
    ps.on('close', () => resolve(Number(out.trim())));
  });
}

function run(options) {
  return new Promise((resolve, reject) => {
    autocannon({ url: URL_BASE, duration: Number(process.env.BENCH_SECONDS ?? 10), ...options }, (error, result) => (error ? reject(error) : resolve(result)));
  });
}

function summary(result) {
  return {
    requestsPerSecond: Math.round(result.requests.average),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    statusCodes: Object.keys(result.statusCodeStats ?? {}).join(","),
  };
}

const dir = mkdtempSync(join(tmpdir(), 'realchat-bench-'));
writeFileSync(join(dir, '.env'), '');
const hashing = await hashTimes();
const { child, startupMs } = await startServer(dir);
await new Promise((resolve) => setTimeout(resolve, 1000));
const idleRssMb = (await rssKb(child.pid)) / 1024;

let counter = 0;
const register = await run({
  connections: 16,
  requests: [
    {
      method: 'POST',
      path: '/accounts/register/',
      setupRequest: (request) => {
        counter += 1;
        // A new user and a new client address each time, so abuse limits do not answer instead.
        return {
          ...request,
          headers: { 'content-type': 'application/json', 'x-forwarded-for': `10.${(counter >> 16) & 255}.${(counter >> 8) & 255}.${counter & 255}` },
          body: JSON.stringify({ username: `bench${counter}`, email: `bench${counter}@example.org`, password: PASSWORD }),
        };
      },
    },
  ],
});

// Each login is of the next registered user in turn: guesses are counted per account before
// argon2 runs, so 16 logins of one account at once would be refused past its budget of 10.
const registered = counter;
let loginCounter = 0;
const login = await run({
  connections: 16,
  requests: [
    {
      method: 'POST',
      path: '/accounts/login/',
      setupRequest: (request) => {
        loginCounter += 1;
        return {
          ...request,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: `bench${(loginCounter % registered) + 1}`, password: PASSWORD }),
        };
      },
    },
  ],
});

const me = await fetch(`${URL_BASE}/accounts/login/`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ username: 'bench1', password: PASSWORD }),
}).then((r) => r.json());
const authenticated = await run({ connections: 50, url: `${URL_BASE}/accounts/me/`, headers: { authorization: `Token ${me.token}` } });

child.kill('SIGTERM');
rmSync(dir, { recursive: true, force: true });

console.log(
  JSON.stringify(
    {
      argon2id: hashing,
      startupMs: Math.round(startupMs),
      idleRssMb: Math.round(idleRssMb * 10) / 10,
      register: summary(register),
      login: summary(login),
      'GET /accounts/me/ (50 connections)': summary(authenticated),
    },
    null,
    2,
  ),
);
