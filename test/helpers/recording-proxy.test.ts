// The recording proxy the federation tests put in front of a backend: it forwards requests byte for
// byte, counts them per path, answers a path itself when told, and drops connections on demand.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { keepAliveHttp, type HttpClient } from '../../src/federation/http.js';
import { freePort } from './ports.js';
import { RecordingProxy } from './recording-proxy.js';

interface Seen {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

describe('the recording proxy', () => {
  let backend: Server;
  let backendUrl: string;
  let seen: Seen[] = [];
  let proxy: RecordingProxy;
  let http: HttpClient;

  beforeAll(async () => {
    backend = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const body = Buffer.concat(chunks).toString();
        seen.push({ method: request.method!, url: request.url!, headers: request.headers, body });
        response.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ bytes: Buffer.byteLength(body) }));
      });
    });
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
    backendUrl = `http://127.0.0.1:${(backend.address() as AddressInfo).port}`;
    proxy = await new RecordingProxy(backendUrl).listen();
    http = keepAliveHttp();
  });
  afterEach(() => {
    seen = [];
    proxy.resetCounts();
    proxy.drop(undefined);
    proxy.target = backendUrl;
  });
  afterAll(async () => {
    http.close();
    await proxy.close();
    backend.closeAllConnections();
    await new Promise((resolve) => backend.close(resolve));
  });

  const post = (path: string, body = '{"x":1}', headers: Record<string, string> = {}) =>
    http.post(new URL(proxy.url + path), { headers: { 'content-type': 'application/json', ...headers }, body, timeoutMs: 2000 });

  it('forwards the exact body, path, query and headers, and the answer back', async () => {
    const body = JSON.stringify({ items: 'é'.repeat(50_000) });
    const answer = await post('/federation/transactions/?q=1', body, { 'x-realchat-signature': 't=1,v2=ab', 'idempotency-key': 'k' });
    expect(answer).toEqual({ status: 201, body: JSON.stringify({ bytes: 100_012 }) });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/federation/transactions/?q=1', body });
    expect(seen[0]!.headers).toMatchObject({ 'x-realchat-signature': 't=1,v2=ab', 'idempotency-key': 'k', host: new URL(backendUrl).host });
  });

  it('counts requests per path, the query left off', async () => {
    await Promise.all([post('/a/'), post('/a/?again'), post('/b/'), post('/a/')]);
    expect(proxy.count('/a/')).toBe(3);
    expect(proxy.count('/b/')).toBe(1);
    expect(proxy.count('/c/')).toBe(0);
    expect(proxy.paths()).toEqual({ '/a/': 3, '/b/': 1 });
    proxy.resetCounts();
    expect(proxy.paths()).toEqual({});
  });

  it('answers a path itself when told, as a backend without it would, and forwards it again after', async () => {
    proxy.answer('/federation/transactions/', 404);
    const refused = await post('/federation/transactions/');
    expect(refused.status).toBe(404);
    expect(JSON.parse(refused.body)).toMatchObject({ code: 'not_found' });
    expect((await post('/accounts/receive-message/')).status).toBe(201);
    expect(seen.map((request) => request.url)).toEqual(['/accounts/receive-message/']);
    expect(proxy.count('/federation/transactions/')).toBe(1);

    proxy.answer('/federation/transactions/', undefined);
    expect((await post('/federation/transactions/')).status).toBe(201);
  });

  it('drops connections before forwarding: the backend never sees the request', async () => {
    proxy.drop('before');
    await expect(post('/a/')).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(seen).toHaveLength(0);
    expect(proxy.count('/a/')).toBe(1);
    proxy.drop(undefined);
    expect((await post('/a/')).status).toBe(201);
  });

  it('drops connections after forwarding: the backend applied the request, its answer is lost', async () => {
    proxy.drop('after');
    await expect(post('/a/', '{"applied":true}')).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(seen.map((request) => request.body)).toEqual(['{"applied":true}']);
  });

  it('answers 502 when the backend is down or not known yet', async () => {
    proxy.target = `http://127.0.0.1:${await freePort()}`;
    expect((await post('/a/')).status).toBe(502);
    proxy.target = undefined;
    expect((await post('/a/')).status).toBe(502);
    expect(seen).toHaveLength(0);
  });
});
