// How the outbound client reads a peer's answers: delivered, worth another try later, or refused
// for good with the peer's code. A local HTTP server plays the peer and records what it got.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FederationClient } from '../../src/federation/client.js';
import { keepAliveHttp, type HttpClient } from '../../src/federation/http.js';
import { PeerDirectory, type Peer } from '../../src/federation/peers.js';
import { verifyRequestSignature } from '../../src/crypto/signing.js';
import { openTransaction, type Transaction } from '../../src/federation/transactions/protocol.js';
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
  const signedFromAToB = (request: (typeof received)[number], path: string) =>
    verifyRequestSignature({
      signingKeys: peer().signingKeys,
      header: request.headers['x-realchat-signature'] as string,
      method: 'POST',
      path,
      body: request.body,
      origin: 'a',
      destination: 'b',
      now: Math.floor(Date.now() / 1000),
      maxAgeSeconds: 60,
    });
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
    expect(signedFromAToB(request!, '/accounts/receive-message/')).toBe(true);
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

  describe('sending a transaction', () => {
    const at = new Date().toISOString();
    const transaction: Transaction = {
      id: '0190a8d2-0000-7000-8000-0000000000a0',
      items: [
        { type: 'message', id: '0190a8d2-0000-7000-8000-0000000000a1', sender: 'alice', receiver: 'bob', text: 'hello', timestamp: at },
        { type: 'read', id: '0190a8d2-0000-7000-8000-0000000000a2', reader: 'alice', partner: 'bob', up_to: '0190a8d2-0000-7000-8000-0000000000b1', read_at: at },
      ],
    };
    const results = (...statuses: number[]) => ({
      results: transaction.items.map((item, index) => (statuses[index] === 200 ? { id: item.id, status: 200 } : { id: item.id, status: statuses[index], code: 'unknown_receiver' })),
    });

    it('posts one signed request to the transactions path, its items sealed under the peer key', async () => {
      received = [];
      answer = reply(200, results(200, 200));
      expect(await client().sendTransaction(peer(), transaction)).toEqual({ kind: 'results', results: results(200, 200).results });
      expect(received).toHaveLength(1);
      const [request] = received;
      expect(request!.headers['x-realchat-origin']).toBe('a');
      expect(request!.headers['idempotency-key']).toBe(transaction.id);
      expect(request!.headers['content-type']).toBe('application/json');
      expect(signedFromAToB(request!, '/federation/transactions/')).toBe(true);
      const body = JSON.parse(request!.body) as { id: string; items: string };
      expect(Object.keys(body).sort()).toEqual(['id', 'items']);
      expect(body.id).toBe(transaction.id);
      expect(request!.body).not.toContain('hello');
      const opened = openTransaction(body, peer().fernetKeys, 60_000, Date.now);
      expect(opened).toEqual(transaction.items.map((item) => ({ ok: true, item })));
    });

    it("hands on each item's own result, a final 4xx among them", async () => {
      answer = reply(200, results(404, 200));
      expect(await client().sendTransaction(peer(), transaction)).toEqual({ kind: 'results', results: results(404, 200).results });
    });

    it('says an older RealChat has no transactions path when it answers 404', async () => {
      answer = reply(404, { detail: 'Not found.', code: 'not_found' });
      expect(await client().sendTransaction(peer(), transaction)).toEqual({ kind: 'unsupported' });
    });

    it('keeps the status and code of a transaction refused whole', async () => {
      for (const [status, code] of [[401, 'invalid_signature'], [403, 'unknown_peer'], [400, 'invalid_token_payload'], [413, 'payload_too_large']] as const) {
        answer = reply(status, { detail: 'No.', code });
        expect(await client().sendTransaction(peer(), transaction)).toEqual({ kind: 'refused', status, code });
      }
      answer = (_request, response) => response.writeHead(403).end('<html>no</html>');
      expect(await client().sendTransaction(peer(), transaction)).toEqual({ kind: 'refused', status: 403, code: 'http_403' });
    });

    it('sends the whole transaction again later after a 503, a 5xx, a 429 or a redirect', async () => {
      for (const status of [503, 500, 429, 301]) {
        answer = (_request, response) => response.writeHead(status, { location: '/elsewhere' }).end();
        expect(await client().sendTransaction(peer(), transaction)).toEqual({ kind: 'retry', reason: `HTTP ${status}` });
      }
    });

    it('sends it again later when the peer is down or hangs', async () => {
      const closed = await freePort();
      expect(await client().sendTransaction(peer({ url: `http://127.0.0.1:${closed}` }), transaction)).toEqual({ kind: 'retry', reason: 'ECONNREFUSED' });
      answer = () => undefined;
      expect(await client(300).sendTransaction(peer(), transaction)).toEqual({ kind: 'retry', reason: 'ETIMEDOUT' });
    });

    it('sends it again later when the answer is not one result per item, in order', async () => {
      const [first, second] = results(200, 200).results;
      for (const body of [{ results: [first] }, { results: [second, first] }, { message: 'hello' }, 'not json']) {
        answer = typeof body === 'string' ? (_request, response) => response.writeHead(200).end(body) : reply(200, body);
        expect(await client().sendTransaction(peer(), transaction)).toEqual({ kind: 'retry', reason: 'malformed answer' });
      }
    });
  });
});
