// How the outbound client reads a peer's answers: delivered, worth another try later, or refused
// for good with the peer's code. A local HTTP server plays the peer and records what it got.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FederationClient } from '../../src/federation/client.js';
import { keepAliveHttp, type HttpClient } from '../../src/federation/http.js';
import { PeerDirectory, type Peer } from '../../src/federation/peers.js';
import { verifyRequestSignature } from '../../src/crypto/signing.js';
import { newKey } from '../helpers/app.js';
import { freePort } from '../helpers/ports.js';

type Answer = (request: IncomingMessage, response: ServerResponse) => void;

describe('the outbound federation client', () => {
  let server: Server;
  let url: string;
  let answer: Answer = (_request, response) => response.end();
  let received: { headers: IncomingMessage['headers']; body: string }[] = [];
  let http: HttpClient;
  const key = newKey();

  beforeAll(async () => {
    server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        received.push({ headers: request.headers, body: Buffer.concat(chunks).toString() });
        answer(request, response);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    http = keepAliveHttp();
  });
  afterAll(async () => {
    http.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  function peer(overrides: { url?: string; compat?: boolean } = {}): Peer {
    return new PeerDirectory([{ name: 'b', url: overrides.url ?? url, key, previousKeys: [], compat: overrides.compat ?? false, token: 'their-token' }]).all[0]!;
  }
  const client = (timeoutMs = 2000) => new FederationClient({ serverName: 'a', timeoutMs, http: http.post });
  const message = { id: '0190a8d2-0000-7000-8000-000000000001', sender: 'alice', receiver: 'bob', text: 'hello', createdAt: Date.now() };
  const reply = (status: number, body: unknown): Answer => (_request, response) => {
    response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };

  it('signs a RealChat request over the exact body, with origin and idempotency key', async () => {
    received = [];
    answer = reply(200, { message: 'hello' });
    expect(await client().deliver(peer(), message)).toEqual({ kind: 'delivered' });
    const [request] = received;
    expect(request!.headers['x-realchat-origin']).toBe('a');
    expect(request!.headers['idempotency-key']).toBe(message.id);
    expect(JSON.parse(request!.body)).toMatchObject({ sender: 'alice', receiver: 'bob', id: message.id, timestamp: expect.any(String) });
    const valid = verifyRequestSignature({
      signingKeys: peer().signingKeys,
      header: request!.headers['x-realchat-signature'] as string,
      method: 'POST',
      path: '/accounts/receive-message/',
      body: request!.body,
      origin: 'a',
      destination: 'b',
      now: Math.floor(Date.now() / 1000),
      maxAgeSeconds: 60,
    });
    expect(valid).toBe(true);
  });

  it('keeps the code of a final 4xx, and maps the original backend\'s error sentences', async () => {
    answer = reply(404, { detail: 'No such user.', code: 'unknown_receiver' });
    expect(await client().deliver(peer(), message)).toEqual({ kind: 'failed', code: 'unknown_receiver' });
    answer = reply(400, { error: 'Receiver does not exist' });
    expect(await client().deliver(peer({ compat: true }), message)).toEqual({ kind: 'failed', code: 'unknown_receiver' });
    answer = reply(400, { error: 'Sender does not exist' });
    expect(await client().deliver(peer({ compat: true }), message)).toEqual({ kind: 'failed', code: 'unknown_sender' });
    answer = (_request, response) => response.writeHead(403).end('<html>no</html>');
    expect(await client().deliver(peer(), message)).toEqual({ kind: 'failed', code: 'http_403' });
  });

  it('tries again later after a 429, a 5xx or a redirect', async () => {
    for (const status of [429, 500, 503, 301]) {
      answer = (_request, response) => response.writeHead(status, { location: '/elsewhere' }).end();
      expect(await client().deliver(peer(), message)).toEqual({ kind: 'retry', reason: `HTTP ${status}` });
    }
  });

  it('tries again later when the peer is down, hangs, or answers without end', async () => {
    const closed = await freePort();
    expect(await client().deliver(peer({ url: `http://127.0.0.1:${closed}` }), message)).toEqual({ kind: 'retry', reason: 'ECONNREFUSED' });

    answer = () => undefined;
    const started = Date.now();
    expect(await client(300).deliver(peer(), message)).toEqual({ kind: 'retry', reason: 'ETIMEDOUT' });
    expect(Date.now() - started).toBeLessThan(1500);

    answer = (_request, response) => {
      response.writeHead(200);
      response.write('x'.repeat(100 * 1024));
    };
    expect(await client().deliver(peer(), message)).toEqual({ kind: 'retry', reason: 'EANSWERTOOLARGE' });
  });

  it("sends a compat peer the original's form: no signature, its token", async () => {
    received = [];
    answer = reply(200, { message: 'hello' });
    expect(await client().deliver(peer({ compat: true }), message)).toEqual({ kind: 'delivered' });
    const [request] = received;
    expect(request!.headers.authorization).toBe('Token their-token');
    expect(request!.headers['x-realchat-signature']).toBeUndefined();
    expect(Object.keys(JSON.parse(request!.body)).sort()).toEqual(['message', 'receiver', 'sender']);
  });
});
