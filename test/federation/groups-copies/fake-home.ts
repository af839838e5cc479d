// A fake home of groups for a member's backend `b`: it sends `group_state` and `group_message`
// items as signed transactions from peer `a` (or, forging, from peer `c`).
import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
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
