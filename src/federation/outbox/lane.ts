// One peer's deliveries from this process (federation.md, "Transactions"): one transaction in
// flight at a time, built from the peer's entries in order: those handed over as they were
// written, those due in the outbox, and the ones behind them for the same receivers. A compat
// peer, or one without the transactions path, gets v1 requests instead, each receiver's in order.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { openAtRest, type KeyRing } from '../../crypto/aead.js';
import type { OutboundMessage } from '../../messages/ports.js';
import type { FederationClient, TransactionOutcome } from '../client.js';
import type { Peer } from '../peers.js';
import { nextBatch, type BatchLimits } from '../transactions/batch.js';
import { carriesDelivery, hadNothingToChange, isChange, itemOf, needsText } from '../transactions/items.js';
import type { ItemOf } from '../transactions/protocol.js';
import type { TransactionSupport } from '../transactions/support.js';
import type { AttemptOutcome, PeerDelivery } from './delivery.js';
import { outboundMessage } from './delivery.js';
import { DELETED_BEFORE_IT_WENT_CODE, type Lease, type OutboxRepository, type QueuedEntry } from './repository.js';
import { settleRound, type Ended, type RoundEntry } from './settle.js';
import { waitingLine } from './waiters.js';

/** What every lane shares: the stores, the wire, and the worker's bookkeeping. */
export interface LaneContext {
  repository: OutboxRepository;
  client: Pick<FederationClient, 'sendTransaction'>;
  delivery: PeerDelivery;
  support: TransactionSupport;
  ring: KeyRing;
  logger: Logger;
  limits: BatchLimits;
  giveUpMs: number;
  now(): number;
  random(): number;
  lease(now: number): Lease;
  /** The longest one request to a peer may take (FEDERATION_TIMEOUT). */
  attemptMs: number;
  /** Ends entries, and tells whoever waits for them; answers whether an entry that waited behind them became due. */
  end(entries: Ended[]): Promise<boolean>;
  /** These lines' entries (by waitingLine) went back to wait for a retry. */
  requeued(lines: ReadonlySet<string>): void;
  /** A transaction went out and was answered (or not), in `ms`. */
  observe(peer: string, items: number, ms: number, outcome: TransactionOutcome['kind']): void;
  stopped(): boolean;
}

/** An entry claimed as it was written, handed over with its text. */
interface Handed {
  message: OutboundMessage;
  receiverKey: string;
  leaseUntil: number;
}

const DELETED_BEFORE_IT_WENT: AttemptOutcome = { kind: 'ended', status: 'failed', failureCode: DELETED_BEFORE_IT_WENT_CODE };
const SUPERSEDED: AttemptOutcome = { kind: 'ended', status: 'delivered', failureCode: null };
// A change of a message the peer never got: there is nothing there to change (a 404 if sent).
const NOTHING_THERE_TO_CHANGE: AttemptOutcome = SUPERSEDED;
const WAITS_FOR_TRANSACTIONS: AttemptOutcome = { kind: 'retry', reason: 'group items travel in transactions, which the peer does not take for now' };

// A peer's requests make its waiting entries due at most this often, until it answers one of ours.
const RETRY_ON_REQUEST_INTERVAL_MS = 5_000;

// Typing is best effort: a lane keeps a few indicators for its next transaction, and drops the rest.
const MAX_TYPING = 20;

export class PeerLane {
  private handed: Handed[] = [];
  private typing: ItemOf<'typing'>[] = [];
  /** The receivers whose entries this lane has in hand or in flight. */
  private readonly holding = new Set<string>();
  private running: Promise<void> | undefined;
  private again = false;
  /** The bookkeeping of answered transactions, in order; the next transaction need not wait for it. */
  private settling: Promise<void> = Promise.resolve();
  /** Receivers whose entries in a transaction still being settled all ended, with how many such transactions: the ones behind them may go next. */
  private readonly answered = new Map<string, number>();
  /** The peer did not answer the last transaction: what is written behind waits its turn. */
  private unreachable = false;
  /** The peer has answered since this process started: its entries wait out no backoff from before. */
  private answeredOnce = false;
  /** When a request from the peer last made its waiting entries due (at most once a while). */
  private retriedOnRequestAt = Number.NEGATIVE_INFINITY;
  /**
   * Entries of this peer may be due in the outbox that this lane has not claimed: at start, when
   * woken (retries, other instances' entries, changes written behind), and when the end of an
   * entry made the one behind it due. Otherwise the handed entries are all there is, and a round
   * spares the claim's query.
   */
  private mayBeDue = true;
  /** Receivers with an entry this process wrote behind one the lane holds: the next round takes it along. */
  private readonly writtenBehind = new Set<string>();

  constructor(
    private readonly server: string,
    private readonly peer: Peer | undefined,
    private readonly context: LaneContext,
  ) {}

  /** An entry claimed in its message's transaction: it leaves in the next transaction. */
  hand(message: OutboundMessage, receiverKey: string, leaseUntil: number): void {
    this.handed.push({ message, receiverKey, leaseUntil });
    this.holding.add(receiverKey);
    this.kick();
  }

  /**
   * Whether an entry written behind one of this receiver's can expect to leave from here soon:
   * the peer answered the last transaction, and this lane has one of the receiver's in hand or is
   * sending or settling one (whose end makes the next due, and kicks the lane).
   */
  carriesNext(receiverKey: string): boolean {
    if (this.unreachable) return false;
    return this.holding.has(receiverKey) || this.running !== undefined || this.answered.size > 0;
  }

  /** Entries of this peer were written or became due in the outbox: the next round looks for them. */
  wake(): void {
    this.mayBeDue = true;
    this.kick();
  }

  /** An entry written behind one of this receiver's, which this lane carries: it leaves next. */
  behind(receiverKey: string): void {
    this.writtenBehind.add(receiverKey);
    this.kick();
  }

  /**
   * A request from the peer reached this backend, so it is up: entries that wait out a backoff
   * grown while it was away (or before this process started) go now, not when the backoff ends.
   */
  heardFrom(): void {
    if (this.answeredOnce && !this.unreachable) return;
    const now = this.context.now();
    if (now - this.retriedOnRequestAt < RETRY_ON_REQUEST_INTERVAL_MS) return;
    this.retriedOnRequestAt = now;
    if (this.unreachable) this.context.logger.info({ peer: this.server }, 'outbox: a request came from the peer; its waiting entries are retried now');
    this.retryWaiting();
  }

  /** A typing indicator for the next transaction; never stored, never retried. */
  sendTyping(item: ItemOf<'typing'>): void {
    if (this.typing.length >= MAX_TYPING) return;
    this.typing.push(item);
    this.kick();
  }

  /** Looks for due entries now, or after the transaction in flight. */
  kick(): void {
    if (this.context.stopped()) return;
    if (this.running) {
      this.again = true;
      return;
    }
    // One turn of the event loop lets the sends of one write batch join the first transaction.
    this.running = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.loop())
      .finally(() => {
        this.running = undefined;
        // A kick between the loop's last look and here found it still running.
        if (this.again) this.kick();
      });
  }

  /** Resolves once the transaction in flight, if any, is settled. */
  async idle(): Promise<void> {
    await this.running;
    await this.settling;
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      try {
        // Whatever a round sent, the end of its entries may have made the next ones due.
        if (await this.round()) this.again = true;
      } catch (error) {
        this.context.logger.error({ err: error, peer: this.server }, 'outbox: a delivery round failed');
      }
    } while (this.again && !this.context.stopped());
    this.holding.clear();
    // What was written behind a line this lane no longer holds becomes due when that line's entry ends.
    this.writtenBehind.clear();
    for (const handed of this.handed) this.holding.add(handed.receiverKey);
  }

  /** Claims, sends and settles one transaction; false when there was nothing to send. */
  private async round(): Promise<boolean> {
    const { repository, limits } = this.context;
    const now = this.context.now();
    const lease = this.context.lease(now);
    const typing = this.protocol() === 'transactions' ? this.typing.splice(0, limits.items - 1) : [];
    this.typing = [];
    const entries = await this.claimRound(now, lease, limits.items - typing.length);
    if (entries.length === 0 && typing.length === 0) return false;

    const outcomes = new Map<number, AttemptOutcome>();
    const sendable = this.prepare(entries, outcomes);
    const batch = nextBatch(sendable, (entry) => itemOf(entry.message), limits);
    const left = sendable.slice(batch.entries.length);
    if (batch.entries.length > 0 || typing.length > 0) await this.send(batch.entries, typing, outcomes);
    // What did not fit, or was not tried before its lease would run out, waits as it was, before
    // anything behind it can be claimed again.
    const unsent = [...batch.entries.filter((entry) => !outcomes.has(entry.message.entryId)), ...left];
    await repository.release(
      unsent.map((entry) => entry.message.entryId),
      lease.by,
    );
    if (unsent.length > 0) this.mayBeDue = true;
    const settled = entries.filter((entry) => outcomes.has(entry.message.entryId));
    const requeued = (receiverKeys: ReadonlySet<string>) => this.context.requeued(new Set([...receiverKeys].map((key) => waitingLine(this.server, key))));
    const settle = () => settleRound(settled, outcomes, { ...this.context, requeued, by: lease.by });
    if (settled.some((entry) => outcomes.get(entry.message.entryId)!.kind === 'retry')) {
      // A line goes back to wait: what is behind it must see that before the next transaction.
      await this.settling;
      if (await settle()) this.mayBeDue = true;
    } else this.settleBehind(settled, settle);
    return true;
  }

  /**
   * The entries of the next transaction, up to `room`, in order: the ones handed to this lane,
   * the due ones of the outbox when there may be any, and the ones behind their lines.
   */
  private async claimRound(now: number, lease: Lease, room: number): Promise<RoundEntry[]> {
    const { repository } = this.context;
    // A handed entry whose lease ran out (a long transaction before it) may be another instance's now.
    const handed = this.handed.splice(0, room).filter((entry) => entry.leaseUntil > now + 1000);
    const heads: RoundEntry[] = handed.map(({ message, receiverKey, leaseUntil }) => ({ message, receiverKey, attempts: 0, leaseUntil }));
    const woken = this.mayBeDue;
    const due = woken && room > heads.length ? await this.claimDue(now, room - heads.length, lease) : [];
    heads.push(...due.map((entry) => fromQueue(entry, lease)));
    for (const head of heads) this.holding.add(head.receiverKey);
    const lines = [...new Set([...heads.map((head) => head.receiverKey), ...this.answered.keys()])];
    // Behind these lines' first entries wait only what was claimed from the outbox, what this
    // process wrote behind them, or what a wake was about; the end of the first makes any other due.
    const noted = lines.filter((line) => this.writtenBehind.delete(line)).length > 0;
    const behind = woken || due.length > 0 || noted ? await repository.claimBehind(this.server, lines, now, room - heads.length, lease) : [];
    return [...heads, ...behind.map((entry) => fromQueue(entry, lease))].sort((x, y) => x.message.entryId - y.message.entryId);
  }

  /**
   * Every entry of the round ended: the peer has applied them, so the next transaction may carry
   * the ones behind them while this one's end is written.
   */
  private settleBehind(settled: RoundEntry[], settle: () => Promise<boolean>): void {
    const receivers = [...new Set(settled.map((entry) => entry.receiverKey))];
    for (const receiver of receivers) this.answered.set(receiver, (this.answered.get(receiver) ?? 0) + 1);
    this.settling = this.settling
      .then(async () => {
        if (await settle()) this.mayBeDue = true;
      })
      .catch((error: unknown) => this.context.logger.error({ err: error, peer: this.server }, 'outbox: settling a transaction failed'))
      .finally(() => {
        for (const receiver of receivers) {
          const count = this.answered.get(receiver)! - 1;
          if (count === 0) this.answered.delete(receiver);
          else this.answered.set(receiver, count);
        }
        // The end of these entries made the ones behind them due.
        this.kick();
      });
  }

  /** Claims up to `limit` due entries; a claim that fills its limit may have left more. */
  private async claimDue(now: number, limit: number, lease: Lease): Promise<QueuedEntry[]> {
    // Cleared first: a wake during the claim sets it again.
    this.mayBeDue = false;
    const due = await this.context.repository.claimDue(now, limit, lease, this.server);
    if (due.length === limit) this.mayBeDue = true;
    return due;
  }

  /**
   * Opens the texts to send, in order: an entry with nothing left to send ends at once, and one
   * whose text cannot be opened goes back to wait, with the rest of its receiver's behind it.
   */
  private prepare(entries: RoundEntry[], outcomes: Map<number, AttemptOutcome>): RoundEntry[] {
    const blocked = new Set<string>();
    const sendable: RoundEntry[] = [];
    for (const entry of entries) {
      const { message } = entry;
      const withText = needsText(message);
      if (blocked.has(entry.receiverKey)) outcomes.set(message.entryId, { kind: 'retry', reason: 'behind an entry that waits' });
      else if (isChange(message) && entry.deliveryRefused) outcomes.set(message.entryId, NOTHING_THERE_TO_CHANGE);
      // Deleted before it went: its text is not sent (`failed`, code `deleted`), and an edit is
      // superseded by the delete behind it. The delete itself goes: an earlier try whose answer
      // was lost may have reached the receiver, and one that never did answers 404.
      else if (entry.deleted && withText) outcomes.set(message.entryId, carriesDelivery(message.group?.item, message.op) ? DELETED_BEFORE_IT_WENT : SUPERSEDED);
      else if (entry.sealed === undefined || !withText) sendable.push(entry);
      else {
        try {
          // An edit sends the text as it is now: a later edit only repeats it.
          message.text = openAtRest(this.context.ring, entry.sealed, String(message.messageId));
          sendable.push(entry);
        } catch (error) {
          // Without the key that sealed it, the text cannot be sent; it stays queued for an operator.
          this.context.logger.error({ err: error, message_id: message.messageId }, 'outbox: cannot open a queued message');
          outcomes.set(message.entryId, { kind: 'retry', reason: 'cannot open the stored text' });
          blocked.add(entry.receiverKey);
        }
      }
    }
    return sendable;
  }

  private protocol(): 'transactions' | 'v1' {
    return this.peer ? this.context.support.protocolFor(this.peer) : 'v1';
  }

  /** Sends the entries as one transaction, or as v1 requests; records each entry's outcome. */
  private async send(entries: RoundEntry[], typing: ItemOf<'typing'>[], outcomes: Map<number, AttemptOutcome>): Promise<void> {
    const peer = this.peer;
    if (peer && this.protocol() === 'transactions') {
      const items = [...typing, ...entries.map((entry) => itemOf(entry.message))];
      const started = this.context.now();
      const outcome = await this.context.client.sendTransaction(peer, { id: randomUUID(), items });
      this.context.observe(peer.name, items.length, this.context.now() - started, outcome.kind);
      this.reached(outcome.kind === 'retry' ? outcome.reason : undefined);
      if (outcome.kind === 'unsupported') {
        // An older RealChat: v1 for a while, starting with these entries.
        this.context.support.markUnsupported(peer);
        this.context.logger.info({ peer: peer.name }, 'outbox: the peer has no transactions path; sending v1 requests');
      } else {
        entries.forEach((entry, index) => outcomes.set(entry.message.entryId, transactionOutcome(outcome, typing.length + index)));
        this.logRefusals(entries, outcomes);
        return;
      }
    }
    await this.sendV1(entries, outcomes);
  }

  /**
   * One v1 request per entry: receivers side by side, each receiver's entries one after another.
   * A request that could still be unanswered when its entry's lease runs out is left for a later
   * round: once the lease is gone, a claim could send it a second time, and the original backend
   * stores every request it gets.
   */
  private async sendV1(entries: RoundEntry[], outcomes: Map<number, AttemptOutcome>): Promise<void> {
    const byReceiver = new Map<string, RoundEntry[]>();
    for (const entry of entries) byReceiver.set(entry.receiverKey, [...(byReceiver.get(entry.receiverKey) ?? []), entry]);
    await Promise.all(
      [...byReceiver.values()].map(async (line) => {
        for (const [index, entry] of line.entries()) {
          if (this.context.now() + this.context.attemptMs >= entry.leaseUntil) return;
          // A RealChat peer on v1 for a while (it answered 404 on the transactions path) takes its
          // group items again once it takes transactions: they wait, as for a peer that is down.
          const waits = entry.message.group !== undefined && this.peer !== undefined && !this.peer.compat;
          const outcome = waits ? WAITS_FOR_TRANSACTIONS : await this.context.delivery.attempt(entry.message);
          outcomes.set(entry.message.entryId, outcome);
          if (!waits) this.reached(outcome.kind === 'retry' ? outcome.reason : undefined);
          if (outcome.kind === 'retry') {
            for (const rest of line.slice(index + 1)) outcomes.set(rest.message.entryId, { kind: 'retry', reason: 'behind an entry that waits' });
            return;
          }
        }
      }),
    );
  }

  /** Whether the peer answered (`failure` undefined) or not: a change either way is logged, once. */
  private reached(failure: string | undefined): void {
    const unreachable = failure !== undefined;
    if (unreachable && !this.unreachable) this.context.logger.warn({ peer: this.server, reason: failure }, 'outbox: the peer cannot be reached; its messages wait and are retried');
    if (!unreachable && this.unreachable) {
      this.context.logger.info({ peer: this.server }, 'outbox: the peer answers again');
      this.retryWaiting();
    }
    this.unreachable = unreachable;
    if (!unreachable) this.answeredOnce = true;
  }

  /** The peer's other lines wait out backoffs grown while it was away: they may go now. */
  private retryWaiting(): void {
    this.context.repository
      .retryNow(this.server, this.context.now())
      .then(() => this.wake())
      .catch((error: unknown) => this.context.logger.error({ err: error, peer: this.server }, 'outbox: retrying the peer’s waiting entries failed'));
  }

  private logRefusals(entries: RoundEntry[], outcomes: Map<number, AttemptOutcome>): void {
    for (const { message } of entries) {
      const outcome = outcomes.get(message.entryId);
      if (outcome?.kind === 'ended' && outcome.status === 'failed') {
        const fields = { message_id: message.messageId, peer: this.server, code: outcome.failureCode, op: message.group?.item.type ?? message.op?.kind };
        if (hadNothingToChange(message, outcome.failureCode)) this.context.logger.debug(fields, 'outbox: the peer had nothing to change');
        else this.context.logger.warn(fields, 'outbox: the peer refused an item');
      }
    }
  }
}

/** An entry claimed from the outbox under `lease`, its text still sealed. */
function fromQueue(entry: QueuedEntry, lease: Lease): RoundEntry {
  return {
    message: outboundMessage(entry),
    receiverKey: entry.receiverKey,
    attempts: entry.attempts,
    sealed: entry.body,
    deleted: entry.deleted,
    deliveryRefused: entry.deliveryRefused,
    leaseUntil: lease.until,
  };
}

/** What the peer's answer to a transaction means for its item at `index`. */
function transactionOutcome(outcome: Exclude<TransactionOutcome, { kind: 'unsupported' }>, index: number): AttemptOutcome {
  if (outcome.kind === 'retry') return outcome;
  if (outcome.kind === 'refused') return { kind: 'ended', status: 'failed', failureCode: outcome.code, answer: { status: outcome.status } };
  const result = outcome.results[index]!;
  if ('code' in result) return { kind: 'ended', status: 'failed', failureCode: result.code, answer: { status: result.status } };
  return { kind: 'ended', status: 'delivered', failureCode: null, answer: { status: 200, ...(result.version !== undefined ? { version: result.version } : {}) } };
}
