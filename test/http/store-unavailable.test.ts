// A database that cannot be reached is the server's trouble, not the client's, and passes:
// requests are answered 503 `unavailable` (api.md), never 500, and work again once it is back.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { createPostgresSchema, postgresUrl, type TestDatabase } from '../helpers/databases.js';
import { call, registerUser, type RegisteredUser } from '../helpers/http.js';

/** A TCP relay to PostgreSQL that can be cut (every connection dropped, new ones refused) and restored. */
class CuttableRelay {
  private readonly sockets = new Set<net.Socket>();
  private server: net.Server | undefined;
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async open(): Promise<void> {
    this.server = net.createServer((client) => {
      const upstream = net.connect(this.target);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => socket.destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  async cut(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server!.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }
}

describe.skipIf(!postgresUrl)('a database that cannot be reached [postgres]', () => {
  let schema: TestDatabase;
  let relay: CuttableRelay;
  let app: TestApp;
  let alice: RegisteredUser;
  let bob: RegisteredUser;

  beforeAll(async () => {
    schema = await createPostgresSchema();
    const url = new URL(schema.url);
    relay = new CuttableRelay({ host: url.hostname, port: Number(url.port || 5432) });
    await relay.open();
    url.host = `127.0.0.1:${relay.port}`;
    app = await startTestApp({ env: { DATABASE_URL: url.toString() } });
    [alice, bob] = [await registerUser(app.url), await registerUser(app.url)];
  });
  afterAll(async () => {
    await app.destroy();
    await schema.drop();
  });

  it('answers 503 unavailable while it is down, then serves again once it is back', async () => {
    await relay.cut();
    const send = await call(app.url, 'POST', '/accounts/send-message/', { receiver: bob.username, message: 'while down' }, { token: alice.token });
    expect(send.status).toBe(503);
    expect(send.body).toEqual({ detail: expect.any(String), code: 'unavailable' });
    const login = await call(app.url, 'POST', '/accounts/login/', { username: bob.username, password: 'a long and quiet river' });
    expect(login.status).toBe(503);
    expect(login.body.code).toBe('unavailable');

    await relay.open();
    await expect
      .poll(async () => (await call(app.url, 'POST', '/accounts/send-message/', { receiver: bob.username, message: 'back' }, { token: alice.token })).status, { timeout: 15_000 })
      .toBe(201);
    const history = await call(app.url, 'GET', `/accounts/messages/?with=${alice.username}`, undefined, { token: bob.token });
    expect(history.body.results.map((message: { message: string }) => message.message)).toContain('back');
  });
});
