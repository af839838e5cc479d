// A fake member's backend for a group's home: it takes the home's transactions on loopback, opens
// their items and records them in order (answering 200 for each, or what `answer` says), and
// sends `group_post`, `group_request` and `typing` items to the home as signed transactions.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { decodeKey } from '../../../src/crypto/keys.js';
import { openTransaction, type TransactionItem } from '../../../src/federation/transactions/protocol.js';
import { newKey, startTestApp, type TestApp } from '../../helpers/app.js';
import type { DatabaseKind } from '../../helpers/databases.js';
import { registerUser, type RegisteredUser } from '../../helpers/http.js';
import { groupsClient } from '../../groups/client.js';
import { openSocket, type TestSocket } from '../../realtime/socket.js';
import { postTransaction, transactionRequest } from '../transactions/peer-transactions.js';

export type Result = { id: string; status: number; code?: string; version?: number };

export interface FakeMember {
  name: string;
  key: string;
  url: string;
  /** Every item the home sent, in the order it arrived. */
  received: TransactionItem[];
  /** The answer to the next items (200 by default); a status of 503 answers the whole transaction 503. */
  answer: (item: TransactionItem) => { status: number; code?: string };
  /** Sends items to the home as this backend, and answers the per-item results. */
  send(items: Record<string, unknown>[]): Promise<Result[]>;
  post(group: string, fields: { kind?: string; sender: string; message?: string; text?: string; id?: string }): Record<string, unknown>;
  request(group: string, fields: { sender: string; action: string; user?: string; role?: string; name?: string; id?: string }): Record<string, unknown>;
  /** Resolves once the home sent items matching `until` (polling, with a deadline). */
  waitFor(until: (items: TransactionItem[]) => boolean, what: string): Promise<TransactionItem[]>;
  close(): Promise<void>;
}

export async function fakeMember(name: string, home: () => string, homeName = 'a'): Promise<FakeMember> {
  const keyText = newKey();
  const key = decodeKey(keyText);
  const member = {} as FakeMember;
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString()) as { id: string; items: string };
      const items = openTransaction(body, [key], 60_000, Date.now).flatMap((checked) => (checked.ok ? [checked.item] : []));
      const answers = items.map((item) => ({ id: item.id, ...member.answer(item) }));
      response.setHeader('content-type', 'application/json');
      if (answers.some((answer) => answer.status >= 500)) {
        response.statusCode = 503;
        response.end(JSON.stringify({ code: 'unavailable' }));
        return;
      }
      member.received.push(...items);
      response.end(JSON.stringify({ results: answers }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  Object.assign(member, {
    name,
    key: keyText,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received: [],
    answer: () => ({ status: 200 }),
    async send(items: Record<string, unknown>[]) {
      const response = await postTransaction(home(), transactionRequest({ key: member.key, items, origin: name, destination: homeName }));
      expect(response.status, JSON.stringify(response.body)).toBe(200);
      return response.body.results as Result[];
    },
    post: (group: string, fields: Record<string, unknown>) => ({ type: 'group_post', id: randomUUID(), group, kind: 'message', message: randomUUID(), timestamp: new Date().toISOString(), ...fields }),
    request: (group: string, fields: Record<string, unknown>) => ({ type: 'group_request', id: randomUUID(), group, ...fields }),
    async waitFor(until: (items: TransactionItem[]) => boolean, what: string) {
      const deadline = Date.now() + 10_000;
      while (!until(member.received)) {
        if (Date.now() > deadline) throw new Error(`${name} never received ${what}; it has ${JSON.stringify(member.received.map((item) => item.type))}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return member.received;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
  return member;
}

export function statuses(results: Result[]): [number, string | undefined][] {
  return results.map((result) => [result.status, result.code]);
}

/** The items of one group, each as its type and what tells it apart. */
export function summary(items: TransactionItem[], group: string): string[] {
  return items.flatMap((item) => {
    if (!('group' in item) || item.group !== group) return [];
    if (item.type === 'group_state') return [`state v${item.version} ${item.members.map((member) => member.user).join(',')}`];
    if (item.type === 'group_message') return [`${item.kind} ${item.sender}${item.text !== undefined ? ` "${item.text}"` : ''}`];
    return [item.type];
  });
}

/** A suite's home `a` (users alice and dave) with fake members b and c, and more peers of a's if given. */
export interface HomeSuite {
  a: TestApp;
  b: FakeMember;
  c: FakeMember;
  alice: RegisteredUser;
  dave: RegisteredUser;
  groups: ReturnType<typeof groupsClient>;
  /** A WebSocket of the user on a, ready, closed after the test. */
  connect(user: RegisteredUser): Promise<TestSocket>;
}

export function homeSuite(database: DatabaseKind, otherPeers: Record<string, unknown>[] = []): HomeSuite {
  const sockets: TestSocket[] = [];
  const suite = {
    groups: groupsClient(() => suite.a.url),
    async connect(user: RegisteredUser) {
      const socket = await openSocket(suite.a.url, user.token);
      sockets.push(socket);
      await socket.roundTrip();
      return socket;
    },
  } as HomeSuite;
  beforeAll(async () => {
    [suite.b, suite.c] = await Promise.all([fakeMember('b', () => suite.a.url), fakeMember('c', () => suite.a.url)]);
    const peers = [...[suite.b, suite.c].map((member) => ({ name: member.name, url: member.url, key: member.key })), ...otherPeers];
    suite.a = await startTestApp({ database, env: { SERVER_NAME: 'a', PEERS: JSON.stringify(peers) } });
    [suite.alice, suite.dave] = await Promise.all([registerUser(suite.a.url, 'alice'), registerUser(suite.a.url, 'dave')]);
  });
  afterEach(async () => {
    await Promise.all(sockets.splice(0).map((socket) => socket.close()));
  });
  afterAll(async () => {
    await suite.a?.destroy();
    await Promise.all([suite.b?.close(), suite.c?.close()]);
  });
  return suite;
}
