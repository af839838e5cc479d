// Graceful shutdown: sockets hear 1001, the delivery in hand is finished and recorded before
// the database closes, so a restart neither re-sends it nor leaves it queued.
import { Agent, createServer, request as httpRequest, type Server } from 'node:http';
import { connect } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { newKey, startTestApp } from '../helpers/app.js';
import { describeEachDatabase } from '../helpers/databases.js';
import { call, registerUser } from '../helpers/http.js';
import { closedWithin, openSocket } from '../realtime/socket.js';

/** Holds each peer request until released, then forwards it; counts what it forwarded. */
async function startGate(target: () => string) {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const gate = { url: '', waiting: 0, forwarded: 0, release, close: async () => undefined as void };
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', async () => {
      gate.waiting++;
      await released;
      gate.forwarded++;
      const headers = Object.fromEntries(Object.entries(request.headers).filter(([name]) => !['host', 'connection', 'content-length'].includes(name))) as Record<string, string>;
      const answer = await fetch(target() + request.url, { method: request.method, headers, body: Buffer.concat(chunks) });
      response.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' }).end(Buffer.from(await answer.arrayBuffer()));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  gate.url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  gate.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return gate;
}

async function refusesConnections(url: string): Promise<boolean> {
  try {
    await fetch(`${url}/healthz`);
    return false;
  } catch {
    return true;
  }
}

describeEachDatabase('graceful shutdown', (database) => {
  const cleanup: Array<() => Promise<void>> = [];

  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  /** Backend a, whose deliveries to peer b wait at a gate until released; alice on a, bob on b. */
  async function startBehindGate(firstTryWaitMs: number) {
    const key = newKey();
    // The gate starts first (the app needs its URL); the peer it forwards to starts after the app.
    const peerUrl = { value: '' };
    const gate = await startGate(() => peerUrl.value);
    cleanup.push(() => gate.close());
    const app = await startTestApp({ database, env: { SERVER_NAME: 'a', PEERS: JSON.stringify([{ name: 'b', url: gate.url, key }]) }, outbox: { firstTryWaitMs } });
    const peer = await startTestApp({ database, env: { SERVER_NAME: 'b', PEERS: JSON.stringify([{ name: 'a', url: app.url, key }]) } });
    peerUrl.value = peer.url;
    cleanup.push(() => peer.destroy());
    return { gate, app, peer, alice: await registerUser(app.url), bob: await registerUser(peer.url) };
  }

  it('says 1001 to sockets and finishes the outbox delivery in hand before closing the database', async () => {
    const setup = await startBehindGate(20);
    const { gate, peer, alice, bob } = setup;
    let app = setup.app;
    cleanup.push(() => app.destroy());
    const socket = await openSocket(app.url, alice.token);
    await socket.roundTrip();

    const sent = await call(app.url, 'POST', '/accounts/send-message/', { message: 'in hand at shutdown', receiver: `${bob.username}@b` }, { token: alice.token });
    expect(sent.body).toMatchObject({ status: 'queued' });
    await expect.poll(() => gate.waiting).toBe(1);

    const closing = app.close();
    expect(await closedWithin(socket)).toMatchObject({ code: 1001 });
    // The instance no longer accepts connections; the delivery is still in hand.
    await expect.poll(() => refusesConnections(app.url)).toBe(true);
    gate.release();
    await closing;

    app = await app.restart();
    const history = await call(app.url, 'GET', `/accounts/messages/?with=${bob.username}@b`, undefined, { token: alice.token });
    expect(history.body.results).toEqual([expect.objectContaining({ id: sent.body.id, status: 'delivered' })]);
    expect(gate.forwarded).toBe(1);
    const inbox = await call(peer.url, 'GET', '/accounts/messages/?after=0', undefined, { token: bob.token });
    expect(inbox.body.results).toEqual([expect.objectContaining({ message: 'in hand at shutdown' })]);
  });

  it('sheds a request that arrives while closing with 503 unavailable in the API shape, after answering the one in flight', async () => {
    const { gate, app, alice, bob } = await startBehindGate(10_000);
    cleanup.push(() => app.destroy());
    const { port } = new URL(app.url);
    const socket = connect(Number(port), '127.0.0.1');
    cleanup.push(async () => void socket.destroy());
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    const ended = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    // A send held at the gate keeps the connection busy; a read follows on it once closing began.
    const body = JSON.stringify({ message: 'in flight while closing', receiver: `${bob.username}@b` });
    socket.write(`POST /accounts/send-message/ HTTP/1.1\r\nHost: x\r\nAuthorization: Token ${alice.token}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    await expect.poll(() => gate.waiting).toBe(1);

    const closing = app.close();
    await new Promise((resolve) => setTimeout(resolve, 100));
    socket.write(`GET /accounts/me/ HTTP/1.1\r\nHost: x\r\nAuthorization: Token ${alice.token}\r\n\r\n`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    gate.release();
    await Promise.all([closing, ended]);
    const answers = received.split(/(?=HTTP\/1\.1 )/);
    expect(answers).toHaveLength(2);
    expect(answers[0]).toMatch(/^HTTP\/1\.1 201 /);
    expect(answers[1]).toMatch(/^HTTP\/1\.1 503 /);
    expect(answers[1]).toMatch(/\r\nretry-after: 1\r\n/i);
    expect(JSON.parse(answers[1]!.slice(answers[1]!.indexOf('\r\n\r\n') + 4))).toEqual({ detail: expect.any(String), code: 'unavailable' });
  });

  it('answers a request in flight on a keep-alive connection, then closes without waiting for the client to leave', async () => {
    const { gate, app, alice, bob } = await startBehindGate(10_000);
    cleanup.push(() => app.destroy());

    // A client that keeps its connection open after the answer, as browsers and proxies do.
    const agent = new Agent({ keepAlive: true });
    cleanup.push(async () => agent.destroy());
    const body = JSON.stringify({ message: 'answered during shutdown', receiver: `${bob.username}@b` });
    const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const target = new URL('/accounts/send-message/', app.url);
      const req = httpRequest(target, { method: 'POST', agent, headers: { authorization: `Token ${alice.token}`, 'content-type': 'application/json' } }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      req.end(body);
    });
    await expect.poll(() => gate.waiting).toBe(1);

    const closing = app.close();
    gate.release();
    const answered = await answer;
    expect(answered.status).toBe(201);
    expect(JSON.parse(answered.body)).toMatchObject({ status: 'delivered' });
    const started = Date.now();
    await closing;
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

