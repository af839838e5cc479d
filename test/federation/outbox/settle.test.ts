// The end of a delivery round, with a fake outbox and clock: ended entries finish, each
// receiver's line of waiting entries goes back with its first due after the backoff, and an
// entry past FEDERATION_GIVE_UP fails instead of waiting.
import { describe, expect, it } from 'vitest';
import type { AttemptOutcome } from '../../../src/federation/outbox/delivery.js';
import { settleRound, type Ended, type RoundEntry, type SettleContext } from '../../../src/federation/outbox/settle.js';

const NOW = 1_000_000;
const GIVE_UP = 60_000;

function entry(entryId: number, receiverKey: string, fields: { attempts?: number; createdAt?: number; op?: 'edit' } = {}): RoundEntry {
  return {
    receiverKey,
    attempts: fields.attempts ?? 0,
    leaseUntil: NOW + 60_000,
    message: {
      entryId,
      messageId: entryId * 10,
      uuid: `uuid-${entryId}`,
      peer: 'b',
      senderUserId: 1,
      sender: 'alice',
      receiverName: receiverKey,
      text: '',
      createdAt: fields.createdAt ?? NOW - 1000,
      ...(fields.op ? { op: { kind: fields.op, id: `change-${entryId}` } } : {}),
    },
  };
}

function context() {
  const calls = { ended: [] as Ended[][], rescheduled: [] as unknown[], requeued: [] as string[][] };
  const ctx: SettleContext = {
    repository: { reschedule: async (heads, behind, by, error) => void calls.rescheduled.push({ heads, behind, by, error }) },
    giveUpMs: GIVE_UP,
    by: 'me',
    now: () => NOW,
    random: () => 0,
    end: async (entries) => {
      calls.ended.push(entries);
      return false;
    },
    requeued: (keys) => void calls.requeued.push([...keys].sort()),
  };
  return { ctx, calls };
}

const delivered: AttemptOutcome = { kind: 'ended', status: 'delivered', failureCode: null };
const retry: AttemptOutcome = { kind: 'retry', reason: 'HTTP 503' };

describe('settleRound', () => {
  it('finishes what ended, with its code, and reschedules nothing when nothing waits', async () => {
    const { ctx, calls } = context();
    const entries = [entry(1, 'bob'), entry(2, 'bob'), entry(3, 'dave')];
    const outcomes = new Map<number, AttemptOutcome>([
      [1, delivered],
      [2, { kind: 'ended', status: 'failed', failureCode: 'unknown_receiver' }],
      [3, { kind: 'ended', status: 'failed', failureCode: 'deleted' }],
    ]);
    await settleRound(entries, outcomes, ctx);
    expect(calls.ended).toHaveLength(1);
    expect(calls.ended[0]!.map((e) => [e.message.entryId, e.status, e.failureCode])).toEqual([
      [1, 'delivered', null],
      [2, 'failed', 'unknown_receiver'],
      [3, 'failed', 'deleted'],
    ]);
    expect(calls.rescheduled).toEqual([]);
    expect(calls.requeued).toEqual([]);
  });

  it('puts each receiver’s line back: its first due after the backoff, the rest behind it', async () => {
    const { ctx, calls } = context();
    const entries = [entry(1, 'bob', { attempts: 2 }), entry(2, 'dave'), entry(3, 'bob'), entry(4, 'dave')];
    await settleRound(entries, new Map(entries.map((e) => [e.message.entryId, retry])), ctx);
    expect(calls.ended).toEqual([]);
    // Equal jitter with random 0: half the ceiling (1 s doubling per attempt).
    expect(calls.rescheduled).toEqual([
      {
        heads: [
          { entryId: 1, attempts: 3, nextAttemptAt: NOW + 2000 },
          { entryId: 2, attempts: 1, nextAttemptAt: NOW + 500 },
        ],
        behind: [3, 4],
        by: 'me',
        error: 'HTTP 503',
      },
    ]);
    expect(calls.requeued).toEqual([['bob', 'dave']]);
  });

  it('fails the first of a line once FEDERATION_GIVE_UP has passed, and the next one leads the line instead', async () => {
    const { ctx, calls } = context();
    const entries = [entry(1, 'bob', { createdAt: NOW - GIVE_UP }), entry(2, 'bob', { createdAt: NOW - GIVE_UP + 10 }), entry(3, 'bob', { createdAt: NOW - GIVE_UP - 5 })];
    await settleRound(entries, new Map(entries.map((e) => [e.message.entryId, retry])), ctx);
    expect(calls.ended[0]!.map((e) => [e.message.entryId, e.status, e.failureCode])).toEqual([[1, 'failed', 'gave_up']]);
    // Never later than its own deadline; the one behind it fails when it leads.
    expect(calls.rescheduled).toEqual([{ heads: [{ entryId: 2, attempts: 1, nextAttemptAt: NOW + 10 }], behind: [3], by: 'me', error: 'HTTP 503' }]);
  });

  it('answers whether the end of its entries made an entry that waited behind them due', async () => {
    const { ctx } = context();
    const entries = [entry(1, 'bob')];
    expect(await settleRound(entries, new Map([[1, delivered]]), ctx)).toBe(false);
    ctx.end = async () => true;
    expect(await settleRound(entries, new Map([[1, delivered]]), ctx)).toBe(true);
    // Nothing ended: nothing was released.
    expect(await settleRound(entries, new Map([[1, retry]]), ctx)).toBe(false);
  });

  it('ends what ended before it reschedules, so that the end cannot undo the wait', async () => {
    const order: string[] = [];
    const { ctx } = context();
    ctx.end = async () => {
      order.push('end');
      return false;
    };
    ctx.repository = { reschedule: async () => void order.push('reschedule') };
    const entries = [entry(1, 'bob'), entry(2, 'bob')];
    await settleRound(
      entries,
      new Map<number, AttemptOutcome>([
        [1, delivered],
        [2, retry],
      ]),
      ctx,
    );
    expect(order).toEqual(['end', 'reschedule']);
  });
});
