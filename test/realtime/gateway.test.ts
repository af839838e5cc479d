// The WebSocket gateway through its public surface: /ws, the bus events it carries, and the
// account actions (logout, password change) that must close sockets.
import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InProcessEventBus } from '../../src/realtime/bus.js';
import type { GatewayLimits } from '../../src/realtime/gateway/protocol.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { describeEachDatabase } from '../helpers/databases.js';
import { call, registerUser, type RegisteredUser } from '../helpers/http.js';
import { closedWithin, openSocket, type TestSocket } from './socket.js';

const PASSWORD = 'a long and quiet river';

describeEachDatabase('real time over /ws', (database) => {
  let app: TestApp;
  let bus: InProcessEventBus;
  let alice: RegisteredUser;
  let bob: RegisteredUser;
  const sockets: TestSocket[] = [];

  async function start(limits: Partial<GatewayLimits> = {}): Promise<void> {
    bus = new InProcessEventBus();
    app = await startTestApp({ database, bus, realtimeLimits: limits });
    alice = await registerUser(app.url);
    bob = await registerUser(app.url);
  }

  async function connect(token?: string, options = {}): Promise<TestSocket> {
    const socket = await openSocket(app.url, token, options);
    sockets.push(socket);
    return socket;
  }

  async function login(user: RegisteredUser): Promise<string> {
    const response = await call(app.url, 'POST', '/accounts/login/', { username: user.username, password: PASSWORD });
    expect(response.status).toBe(200);
    return response.body.token as string;
  }

  afterEach(async () => {
    await Promise.all(sockets.splice(0).map((socket) => socket.close()));
    await app?.destroy();
  });

  describe('with the default limits', () => {
    beforeEach(async () => {
      await start();
    });

    it('authenticates by header and delivers the user’s events, not other users’', async () => {
      const socket = await connect(alice.token);
      await socket.roundTrip();
      await bus.publish(bob.id, { type: 'read', with: 'x', up_to: 1, read_at: 'never' });
      await bus.publish(alice.id, { type: 'status', id: 7, status: 'delivered' });
      expect(await socket.next()).toEqual({ type: 'status', id: 7, status: 'delivered' });
    });

    it('authenticates by a first frame', async () => {
      const socket = await connect();
      socket.send({ type: 'auth', token: alice.token });
      await socket.roundTrip();
      await bus.publish(alice.id, { type: 'status', id: 1, status: 'failed' });
      expect(await socket.next()).toEqual({ type: 'status', id: 1, status: 'failed' });
    });

    it('delivers an event to every connection of the user', async () => {
      const first = await connect(alice.token);
      const second = await connect();
      second.send({ type: 'auth', token: alice.token });
      await Promise.all([first.roundTrip(), second.roundTrip()]);
      await bus.publish(alice.id, { type: 'message', message: { id: 1 } });
      expect(await first.next()).toEqual({ type: 'message', message: { id: 1 } });
      expect(await second.next()).toEqual({ type: 'message', message: { id: 1 } });
    });

    it('answers ping with pong', async () => {
      const socket = await connect(alice.token);
      socket.send({ type: 'ping' });
      expect(await socket.next()).toEqual({ type: 'pong' });
    });

    it('closes with 4401 for an unknown token, by header or by frame', async () => {
      const byHeader = await connect('not-a-token');
      expect(await closedWithin(byHeader)).toMatchObject({ code: 4401 });
      const byFrame = await connect();
      byFrame.send({ type: 'auth', token: 'not-a-token' });
      expect(await closedWithin(byFrame)).toMatchObject({ code: 4401 });
    });

    it('closes with 4401 when the first frame is not an auth frame', async () => {
      const socket = await connect();
      socket.send({ type: 'ping' });
      expect(await closedWithin(socket)).toMatchObject({ code: 4401 });
    });

    it('closes with 1008 for a frame that is not a JSON object with a type', async () => {
      for (const frame of ['not json', '[1,2]', '{"no":"type"}', '{"type":"shout"}']) {
        const socket = await connect(alice.token);
        await socket.roundTrip();
        socket.send(frame);
        expect(await closedWithin(socket)).toMatchObject({ code: 1008 });
      }
      const binary = await connect(alice.token);
      binary.ws.send(Buffer.from('{"type":"ping"}'), { binary: true });
      expect(await closedWithin(binary)).toMatchObject({ code: 1008 });
    });

    it('closes with 1009 for a frame that is too large', async () => {
      const socket = await connect(alice.token);
      socket.send({ type: 'ping', padding: 'x'.repeat(10_000) });
      expect(await closedWithin(socket)).toMatchObject({ code: 1009 });
    });

    it('closes a socket when its token is revoked by logout, and only that one', async () => {
      const second = await login(alice);
      const loggedOut = await connect(alice.token);
      const kept = await connect(second);
      await Promise.all([loggedOut.roundTrip(), kept.roundTrip()]);
      expect((await call(app.url, 'POST', '/accounts/logout/', undefined, { token: alice.token })).status).toBe(204);
      expect(await closedWithin(loggedOut)).toEqual({ code: 4401, reason: 'token revoked' });
      await kept.roundTrip();
    });

    it('closes the sockets of the other tokens when the password changes', async () => {
      const other = await login(alice);
      const revoked = await connect(other);
      const current = await connect(alice.token);
      const bobs = await connect(bob.token);
      await Promise.all([revoked.roundTrip(), current.roundTrip(), bobs.roundTrip()]);
      const change = await call(app.url, 'PATCH', '/accounts/me/', { current_password: PASSWORD, password: 'another calm long river' }, { token: alice.token });
      expect(change.status).toBe(200);
      expect(await closedWithin(revoked)).toEqual({ code: 4401, reason: 'token revoked' });
      await current.roundTrip();
      await bobs.roundTrip();
    });

    it('closes every socket with 1001 on shutdown', async () => {
      const socket = await connect(alice.token);
      await socket.roundTrip();
      await app.close();
      expect(await closedWithin(socket)).toMatchObject({ code: 1001 });
    });

    it('answers a plain GET /ws with 426 and a JSON error', async () => {
      const response = await call(app.url, 'GET', '/ws');
      expect(response.status).toBe(426);
      expect(response.body).toMatchObject({ code: 'upgrade_required' });
    });

    it('answers an upgrade with a bad or missing Sec-WebSocket-Key with 400 and a JSON error, not an HTML page', async () => {
      const { hostname, port } = new URL(app.url);
      for (const key of ['Sec-WebSocket-Key: abc\r\n', '']) {
        // As a raw client sees it: the answer, then the connection closed.
        const raw = await new Promise<string>((resolve, reject) => {
          let received = '';
          const socket = net.connect(Number(port), hostname, () =>
            socket.write(`GET /ws HTTP/1.1\r\nHost: ${hostname}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n${key}\r\n`),
          );
          socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
          socket.on('close', () => resolve(received));
          socket.on('error', reject);
        });
        const [head, body] = raw.split('\r\n\r\n');
        expect(head).toMatch(/^HTTP\/1\.1 400 /);
        expect(head).toMatch(/\r\ncontent-type: application\/json/i);
        expect(JSON.parse(body!)).toEqual({ detail: expect.any(String), code: 'bad_request' });
      }
    });
  });

  it('closes with 4408 when no auth frame arrives in time', async () => {
    await start({ authTimeoutMs: 150 });
    const socket = await connect();
    expect(await closedWithin(socket)).toMatchObject({ code: 4408 });
  });

  it('drops a connection that stops answering heartbeats and keeps one that answers', async () => {
    await start({ heartbeatIntervalMs: 100 });
    const dead = await connect(alice.token, { autoPong: false });
    const alive = await connect(bob.token);
    await Promise.all([dead.roundTrip(), alive.roundTrip()]);
    let pings = 0;
    alive.ws.on('ping', () => pings++);
    const closed = await closedWithin(dead);
    expect(closed.code).toBe(1006);
    await expect.poll(() => pings, { timeout: 5000 }).toBeGreaterThanOrEqual(3);
    await alive.roundTrip();
  });

  it('refuses connections over the per-user cap with 4429', async () => {
    await start({ maxConnectionsPerUser: 2 });
    const first = await connect(alice.token);
    const second = await connect(alice.token);
    await Promise.all([first.roundTrip(), second.roundTrip()]);
    const third = await connect(alice.token);
    expect(await closedWithin(third)).toMatchObject({ code: 4429 });
    await first.close();
    const again = await connect(alice.token);
    await expect.poll(async () => {
      if (again.ws.readyState !== again.ws.OPEN) return 'closed';
      await again.roundTrip();
      return 'open';
    }).toBe('open');
  });

  it('disconnects a client that stops reading before buffering past the limit', async () => {
    await start({ maxBufferedBytes: 64 * 1024 });
    const slow = await connect(alice.token);
    await slow.roundTrip();
    const rawSocket = (slow.ws as unknown as { _socket: import('node:net').Socket })._socket;
    rawSocket.pause();
    const event = { type: 'message', message: { id: 0, message: 'x'.repeat(16 * 1024) } };
    let published = 0;
    // Enough to fill both kernel buffers several times over; the server must give up long before.
    for (; published < 4000; published++) {
      await bus.publish(alice.id, event);
      if (published % 100 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    // The server let go of the socket while the client was still not reading.
    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    expect(metrics).toMatch(/^realchat_websocket_connections 0$/m);
    rawSocket.resume();
    expect(await closedWithin(slow)).toMatchObject({ code: 1013 });
    expect(slow.received.length).toBeLessThan(published);
  });
});
