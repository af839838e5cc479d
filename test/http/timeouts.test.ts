// REQUEST_TIMEOUT, HEADERS_TIMEOUT, KEEP_ALIVE_TIMEOUT: a client that sends its request slowly
// (slowloris) or goes quiet loses its connection instead of holding it, while an upgraded
// WebSocket, quiet or not, stays open.
import { connect, type Socket } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { describeEachDatabase } from '../helpers/databases.js';
import { registerUser } from '../helpers/http.js';
import { openSocket } from '../realtime/socket.js';

interface Ended {
  /** Everything the server wrote before it closed the connection. */
  answer: string;
  afterMs: number;
}

/** Opens a raw TCP connection to the app, writes `first`, then one more byte of `trickle` every 100 ms. */
async function slowClient(app: TestApp, first: string, trickle = ''): Promise<{ socket: Socket; ended: Promise<Ended> }> {
  const { hostname, port } = new URL(app.url);
  const socket = connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const started = Date.now();
  let answer = '';
  socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
  socket.on('error', () => undefined);
  let sent = 0;
  const dripping = setInterval(() => {
    if (sent < trickle.length && !socket.destroyed) socket.write(trickle[sent++]!);
  }, 100);
  const ended = new Promise<Ended>((resolve) =>
    socket.once('close', () => {
      clearInterval(dripping);
      resolve({ answer, afterMs: Date.now() - started });
    }),
  );
  if (first) socket.write(first);
  return { socket, ended };
}

/** Waits for the connection to close, failing after `withinMs` instead of hanging. */
async function closedWithin(client: { socket: Socket; ended: Promise<Ended> }, withinMs: number): Promise<Ended> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      client.socket.destroy();
      reject(new Error(`the server kept the connection open for more than ${withinMs} ms`));
    }, withinMs);
  });
  try {
    return await Promise.race([client.ended, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

function statusAndBody(answer: string): { status: number; body: unknown } {
  const [head = '', body = ''] = answer.split('\r\n\r\n');
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]), body: body ? JSON.parse(body) : undefined };
}

const HEADERS = 'POST /accounts/login/ HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n';

describeEachDatabase('request and connection timeouts', (database) => {
  let app: TestApp;

  afterEach(() => app.destroy());

  it('answers 408 and closes the connection when a body has not arrived within REQUEST_TIMEOUT', async () => {
    app = await startTestApp({ database, env: { REQUEST_TIMEOUT: '1s', HEADERS_TIMEOUT: '1s' } });
    const clients = await Promise.all(Array.from({ length: 20 }, () => slowClient(app, HEADERS, '{"username": "slow", "password": "loris"'.repeat(5))));
    const ended = await Promise.all(clients.map((client) => closedWithin(client, 8000)));
    for (const { answer, afterMs } of ended) {
      expect(statusAndBody(answer)).toEqual({ status: 408, body: { code: 'request_timeout', detail: expect.any(String) } });
      expect(afterMs).toBeGreaterThanOrEqual(900);
    }
  });

  it('answers 408 too when the body stalls, sending nothing more', async () => {
    app = await startTestApp({ database, env: { REQUEST_TIMEOUT: '1s', HEADERS_TIMEOUT: '1s' } });
    const { answer, afterMs } = await closedWithin(await slowClient(app, `${HEADERS}{"user`), 8000);
    expect(statusAndBody(answer)).toEqual({ status: 408, body: { code: 'request_timeout', detail: expect.any(String) } });
    expect(afterMs).toBeGreaterThanOrEqual(900);
  });

  it('closes a connection whose headers have not arrived within HEADERS_TIMEOUT', async () => {
    app = await startTestApp({ database, env: { HEADERS_TIMEOUT: '1s' } });
    const client = await slowClient(app, 'GET /healthz HTTP/1.1\r\nHost: localhost\r\n', 'X-Slow: loris-loris-loris-loris-loris-loris-loris-loris-loris-loris-loris-loris-loris\r\n');
    const { answer } = await closedWithin(client, 8000);
    expect(statusAndBody(answer).status).toBe(408);
  });

  it('closes a connection that sends nothing', async () => {
    app = await startTestApp({ database, env: { HEADERS_TIMEOUT: '1s' } });
    await closedWithin(await slowClient(app, ''), 8000);
  });

  it('closes an idle keep-alive connection after KEEP_ALIVE_TIMEOUT', async () => {
    app = await startTestApp({ database, env: { KEEP_ALIVE_TIMEOUT: '500ms' } });
    const { answer } = await closedWithin(await slowClient(app, 'GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n'), 8000);
    expect(statusAndBody(answer).status).toBe(200);
  });

  it('keeps a quiet WebSocket open past REQUEST_TIMEOUT and HEADERS_TIMEOUT', async () => {
    app = await startTestApp({ database, env: { REQUEST_TIMEOUT: '500ms', HEADERS_TIMEOUT: '500ms', KEEP_ALIVE_TIMEOUT: '500ms' } });
    const user = await registerUser(app.url);
    const socket = await openSocket(app.url, user.token);
    await socket.roundTrip();
    // Nothing to await but time itself: the timeouts must pass (with Node's checks) and leave the socket alone.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    await socket.roundTrip();
    await socket.close();
  });
});
