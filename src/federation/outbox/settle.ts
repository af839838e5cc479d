// The end of a delivery round: entries that ended are finished (delivered, or refused for good),
// and the ones that wait for a retry go back to the outbox, each receiver's first due again
// after its backoff and the rest behind it, unless FEDERATION_GIVE_UP has passed for them.
import type { OutboundMessage } from '../../messages/ports.js';
import { retryDelay } from './backoff.js';
import type { AttemptOutcome, ItemAnswer } from './delivery.js';
import { GAVE_UP_CODE, type OutboxRepository } from './repository.js';

/** An entry of a round: its message (text opened once sent), its receiver, its attempts so far. */
export interface RoundEntry {
  message: OutboundMessage;
  receiverKey: string;
  attempts: number;
  /** The stored text, for an entry claimed from the outbox (a handed one carries its text). */
  sealed?: string;
  deleted?: boolean;
  /** The peer refused the message this entry is about: it has nothing to change. */
  deliveryRefused?: boolean;
  /** Until when this process holds the entry: past it, another claim may send it again. */
  leaseUntil: number;
}

/** An entry that ends. */
export interface Ended {
  message: OutboundMessage;
  receiverKey: string;
  status: 'delivered' | 'failed';
  failureCode: string | null;
  /** The receiver's own answer to the item, when it gave one. */
  answer?: ItemAnswer;
}

export interface SettleContext {
  repository: Pick<OutboxRepository, 'reschedule'>;
  giveUpMs: number;
  by: string;
  now(): number;
  random(): number;
  /** Answers whether the end made due an entry that waited behind one that ended. */
  end(entries: Ended[]): Promise<boolean>;
  requeued(receiverKeys: ReadonlySet<string>): void;
}

/** Settles the entries of a round, in their order, by their outcomes; answers whether an entry that waited became due. */
export async function settleRound(entries: RoundEntry[], outcomes: ReadonlyMap<number, AttemptOutcome>, context: SettleContext): Promise<boolean> {
  const now = context.now();
  const ended: Ended[] = [];
  const waiting = new Map<string, { entry: RoundEntry; reason: string }[]>();
  for (const entry of entries) {
    const outcome = outcomes.get(entry.message.entryId)!;
    if (outcome.kind === 'ended') {
      ended.push({
        message: entry.message,
        receiverKey: entry.receiverKey,
        status: outcome.status,
        failureCode: outcome.failureCode,
        ...(outcome.answer ? { answer: outcome.answer } : {}),
      });
    }
    else waiting.set(entry.receiverKey, [...(waiting.get(entry.receiverKey) ?? []), { entry, reason: outcome.reason }]);
  }
  const heads: { entryId: number; attempts: number; nextAttemptAt: number }[] = [];
  const behind: number[] = [];
  let reason = '';
  // One draw per round: the receivers of one peer back off together.
  const random = context.random();
  for (const line of waiting.values()) {
    // The first of a receiver's line waits for its retry; one past FEDERATION_GIVE_UP fails instead.
    while (line.length > 0 && now >= line[0]!.entry.message.createdAt + context.giveUpMs) {
      const { message, receiverKey } = line.shift()!.entry;
      ended.push({ message, receiverKey, status: 'failed', failureCode: GAVE_UP_CODE });
    }
    const [first, ...rest] = line;
    if (!first) continue;
    reason ||= first.reason;
    const attempts = first.entry.attempts + 1;
    const deadline = first.entry.message.createdAt + context.giveUpMs;
    heads.push({ entryId: first.entry.message.entryId, attempts, nextAttemptAt: Math.min(now + retryDelay(attempts, random), deadline) });
    behind.push(...rest.map(({ entry }) => entry.message.entryId));
  }
  // Ended first: the end of an entry makes the one behind it due, which the reschedule then sets right.
  const released = ended.length > 0 && (await context.end(ended));
  if (heads.length > 0) await context.repository.reschedule(heads, behind, context.by, reason);
  if (waiting.size > 0) context.requeued(new Set(waiting.keys()));
  return released;
}
