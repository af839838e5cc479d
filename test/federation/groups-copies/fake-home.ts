// A fake home of groups for a member's backend `b`: it sends `group_state` and `group_message`
// items as signed transactions from peer `a` (or, forging, from peer `c`), and, as a server,
// answers the `group_request`s b sends it.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'vitest';
import { decodeKey } from '../../../src/crypto/keys.js';
import { openTransaction, type TransactionBody } from '../../../src/federation/transactions/protocol.js';
import { postTransaction, transactionRequest } from '../transactions/peer-transactions.js';

export interface StateMember {
  user: string;
  role: 'owner' | 'admin' | 'member';
}

export interface FakePeer {
  name: string;
  key: string;
}

type Result = { id: string; status: number; code?: string };

export function fakeHome(url: () => string, peer: FakePeer) {
  const created = new Date(Date.UTC(2026, 10, 1)).toISOString();
  /** Sends the items in one transaction and answers the per-item results. */
  async function send(items: Record<string, unknown>[]): Promise<Result[]> {
    const response = await postTransaction(url(), transactionRequest({ key: peer.key, items, origin: peer.name }));
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    return response.body.results as Result[];
  }
  return {
    send,
    state(group: string, version: number, members: StateMember[], name = 'trip'): Record<string, unknown> {
      return {
        type: 'group_state',
        id: randomUUID(),
        group,
        name,
        version,
        created_at: created,
        members: members.map((member, index) => ({ ...member, joined_at: new Date(Date.parse(created) + index * 1000).toISOString() })),
      };
    },
    message(group: string, fields: { kind?: string; message?: string; sender: string; position?: number; text?: string }): Record<string, unknown> {
      return { type: 'group_message', id: randomUUID(), group, kind: 'message', message: randomUUID(), timestamp: new Date().toISOString(), ...fields };
    },
  };
}

export function statuses(results: Result[]): [number, string | undefined][] {
  return results.map((result) => [result.status, result.code]);
}

/** What the fake home answers an item: a per-item result, or `drop` (the connection breaks: the home is down). */
export type HomeAnswer = { status: number; code?: string; version?: number } | 'drop';

export interface FakeHomeServer {
  url: string;
  /** The items received, in order (those of a dropped transaction included: it may come again). */
  received: Record<string, unknown>[];
  close(): Promise<void>;
}

/**
 * A stand-in for a group's home at `url`: it opens the transactions b sends, answers each item
 * with `answer`, and once the answer is out runs `after` (to send b the new state, as a home does).
 */
export async function startFakeHomeServer(options: {
  key: string;
  answer: (item: Record<string, unknown>) => HomeAnswer;
  after?: (item: Record<string, unknown>, answer: HomeAnswer) => Promise<void>;
}): Promise<FakeHomeServer> {
  const received: Record<string, unknown>[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as TransactionBody;
      const items = openTransaction(body, [decodeKey(options.key)], 60_000, Date.now).map((checked) => (checked.ok ? checked.item : {})) as Record<string, unknown>[];
      received.push(...items);
      const answers = items.map((item) => options.answer(item));
      if (answers.includes('drop')) {
        request.socket.destroy();
        return;
      }
      const results = items.map((item, index) => ({ id: item.id, ...(answers[index] as object) }));
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ results }), () => {
        void (async () => {
          for (const [index, item] of items.entries()) await options.after?.(item, answers[index]!);
        })();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
