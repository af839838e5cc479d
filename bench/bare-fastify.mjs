// The yardstick for the machine: "a bare Fastify handler does about 35,000/s here".
// Serves one POST route that answers a small JSON, in its own process, on the port given by
// PORT; bareFastifyRate() measures it with the same autocannon settings as the benches.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import Fastify from 'fastify';
import { freePort } from './serve.mjs';

/** Requests per second of the bare handler at `connections`, over `seconds`, and its p99 latency in ms. */
export async function bareFastifyRate({ connections, seconds }) {
  const port = await freePort();
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url)], { env: { PATH: process.env.PATH, PORT: String(port) }, stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise((resolve, reject) => {
      child.stdout.once('data', resolve);
      child.once('exit', (code) => reject(new Error(`the bare Fastify server exited with ${code}`)));
    });
    const result = await autocannon({
      url: `http://127.0.0.1:${port}/echo`,
      connections,
      duration: seconds,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ message: 'Hello, World!', receiver: 'someone' }),
    });
    return { perSecond: Math.round(result.requests.average), p99Ms: result.latency.p99 };
  } finally {
    child.kill('SIGTERM');
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const app = Fastify();
  app.post('/echo', async (request) => ({ received: request.body.message }));
  await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
  process.stdout.write('ready\n');
}
