// Signature v2: a signed request cannot be reflected back to its sender (`v2` binds the origin
// and the destination), and a RealChat peer must send `v2`.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startBackends, type Backend } from '../helpers/backends.js';
import { describeEachDatabase } from '../helpers/databases.js';
import { call, registerUser, type RegisteredUser } from '../helpers/http.js';
import { postAsPeer } from './peer-requests.js';

interface Captured {
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * Stands where b should be, as a RealChat from before transactions: it answers 404 on their path
 * (so a falls back to v1 requests, whose signature these tests replay), keeps the v1 requests a
 * sends it and answers them as b would.
 */
async function startRecorder(): Promise<{ url: string; captured: Captured[]; close(): Promise<void> }> {
  const captured: Captured[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (request.url?.startsWith('/federation/transactions/')) {
        response.writeHead(404, { 'content-type': 'application/json' }).end('{"detail":"Not found.","code":"not_found"}');
        return;
      }
      captured.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"message":"ok"}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    captured,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function replay(captured: Captured, headers: Record<string, string>) {
  return {
    body: captured.body,
    headers: {
      'content-type': 'application/json',
      'x-realchat-origin': String(captured.headers['x-realchat-origin']),
      'x-realchat-signature': String(captured.headers['x-realchat-signature']),
      'idempotency-key': String(captured.headers['idempotency-key']),
      ...headers,
    },
  };
}

describeEachDatabase('signature v2 between RealChat peers', (database) => {
  let recorder: Awaited<ReturnType<typeof startRecorder>>;
  let a: Backend;
  let b: Backend;
  let alice: RegisteredUser;
  let bobOnA: RegisteredUser;
  let bobOnB: RegisteredUser;
  let captured: Captured;

  beforeAll(async () => {
    recorder = await startRecorder();
    [a, b] = (await startBackends(database, ['a', 'b'], {
      // a's deliveries to b go to the recorder; b itself is reachable all the same.
      peers: (name, peers) => (name === 'a' ? peers.map((peer) => ({ ...peer, url: recorder.url })) : peers),
    })) as [Backend, Backend];
    [alice, bobOnA, bobOnB] = await Promise.all([registerUser(a.url, 'alice'), registerUser(a.url, 'bob'), registerUser(b.url, 'bob')]);
    const sent = await call(a.url, 'POST', '/accounts/send-message/', { message: 'for bob@b only', receiver: 'bob@b' }, { token: alice.token });
    expect(sent.body.status).toBe('delivered');
    captured = recorder.captured[0]!;
  });
  afterAll(async () => {
    await Promise.all([a.destroy(), b.destroy()]);
    await recorder.close();
  });

  it('sends t, v1 and v2 in X-RealChat-Signature', () => {
    expect(captured.headers['x-realchat-signature']).toMatch(/^t=\d+,v1=[0-9a-f]{64},v2=[0-9a-f]{64}$/);
  });

  it('refuses a request a signed for b, reflected back to a as if b had sent it, with 401 invalid_signature, storing nothing', async () => {
    const reflected = await postAsPeer(a.url, replay(captured, { 'x-realchat-origin': 'b' }));
    expect(reflected.status).toBe(401);
    expect(reflected.body.code).toBe('invalid_signature');
    const db = a.openDatabase();
    try {
      const rows = await db.db
        .selectFrom('messages as m')
        .innerJoin('conversation_members as r', (join) => join.onRef('r.conversation_id', '=', 'm.conversation_id').onRef('r.member_key', '<>', 'm.sender_key'))
        .select(['m.sender as sender', 'r.address as receiver'])
        .execute();
      expect(rows).toEqual([{ sender: 'alice', receiver: 'bob@b' }]);
    } finally {
      await db.close();
    }
    expect((await call(a.url, 'GET', '/accounts/messages/?with=alice@b', undefined, { token: bobOnA.token })).body.results).toEqual([]);
  });

  it('refuses a request from a RealChat peer that carries v1 only, with 401 invalid_signature', async () => {
    const v1Only = String(captured.headers['x-realchat-signature']).replace(/,v2=[0-9a-f]+$/, '');
    const response = await postAsPeer(b.url, replay(captured, { 'x-realchat-signature': v1Only }));
    expect(response.status).toBe(401);
    expect(response.body.code).toBe('invalid_signature');
    expect((await call(b.url, 'GET', '/accounts/messages/?with=alice@a', undefined, { token: bobOnB.token })).body.results).toEqual([]);
  });

  it('stores the captured request at its real destination', async () => {
    const response = await postAsPeer(b.url, replay(captured, {}));
    expect(response).toMatchObject({ status: 200, body: { message: 'for bob@b only' } });
    expect((await call(b.url, 'GET', '/accounts/messages/?with=alice@a', undefined, { token: bobOnB.token })).body.results).toEqual([
      expect.objectContaining({ sender: 'alice@a', receiver: 'bob', message: 'for bob@b only' }),
    ]);
  });
});
