// What every benchmark needs: a free port, `realchat serve` (from dist/) started on it, users
// registered on it, and the CPU time a process spent.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

// BENCH_MAIN=/path/to/other/dist/main.js runs another build (to compare two builds side by side).
const MAIN = process.env.BENCH_MAIN ?? fileURLToPath(new URL('../dist/main.js', import.meta.url));

export function freePort() {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts `realchat serve` in `cwd` on 127.0.0.1:`port` with only PATH and `env` in its
 * environment, and resolves once /healthz answers.
 */
export async function spawnServe({ cwd, port, env, stdio = ['ignore', 'ignore', 'inherit'] }) {
  // BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the servers of a run.
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, MAIN, 'serve'], {
    cwd,
    env: { PATH: process.env.PATH, PORT: String(port), HOST: '127.0.0.1', ...env },
    stdio,
  });
  const url = `http://127.0.0.1:${port}`;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`realchat serve exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) return { child, url };
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

// CPU seconds a process has used (user + system, all its threads), or its main thread alone
// (the event loop, which serves every request), from /proc: ticks of 1/100 s.
export function cpuSeconds(pid, mainThreadOnly = false) {
  const fields = readFileSync(mainThreadOnly ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

let registered = 0;

/**
 * Registers a user and resolves with its token. Each registration comes from an address of its
 * own (X-Forwarded-For, with the server started with TRUST_PROXY=true), so that the abuse limits
 * per address stay out of the way.
 */
export async function register(url, username) {
  registered += 1;
  const response = await fetch(`${url}/accounts/register/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': `10.0.${registered >> 8}.${registered & 255}` },
    body: JSON.stringify({ username, email: `${username}@example.org`, password: 'a long and quiet river' }),
  });
  if (response.status !== 201) throw new Error(`register ${username}: ${response.status} ${await response.text()}`);
  return (await response.json()).token;
}
