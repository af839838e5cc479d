// The outbox worker: delivers queued messages to peers, each entry by one worker, per receiver
// in order, retrying with backoff until FEDERATION_GIVE_UP. A new message is tried at once by
// the instance that wrote it (first-try.ts keeps those tries in order); the answer waits for
// that try only briefly.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { openAtRest, type KeyRing } from '../../crypto/aead.js';
import type { OutboundMessage, Recorded } from '../../messages/ports.js';
import type { MessageStatus } from '../../messages/view.js';
import { WriteBatcher } from '../../db/write-batcher.js';
import type { FederationClient } from '../client.js';
import type { HttpFunction } from '../http.js';
import type { PeerDirectory } from '../peers.js';
import { retryDelay } from './backoff.js';
import { outboundMessage, PeerDelivery } from './delivery.js';
import { FirstTryQueue } from './first-try.js';
import type { ClaimedEntry, Finished, OutboxRepository } from './repository.js';

export interface OutboxWorkerOptions {
  repository: OutboxRepository;
  client: FederationClient;
  peers: PeerDirectory;
  ring: KeyRing;
  logger: Logger;
  timeoutMs: number;
  giveUpMs: number;
  /** Told when a message's entry ends, with the `status` event recorded for its sender. */
  onFinished(messageId: number, status: 'delivered' | 'failed', recorded: Recorded | undefined): void;
  clock?: () => number;
  random?: () => number;
  /** How long a send waits for its first try before answering `queued`. */
  firstTryWaitMs?: number;
  /** Deliveries in flight at once, each to a different receiver. */
  concurrency?: number;
  /** How often due entries are looked for when nothing wakes the worker. */
  pollIntervalMs?: number;
}

/** What tests and benchmarks may change about delivery. */
export type OutboxTuning = Partial<Pick<OutboxWorkerOptions, 'firstTryWaitMs' | 'concurrency' | 'pollIntervalMs' | 'random'>> & {
  /** The HTTP function that reaches peers (fetch by default). */
  http?: HttpFunction;
};

const LEASE_MARGIN_MS = 2_000;
const DEFAULT_FIRST_TRY_WAIT_MS = 300;
const DEFAULT_CONCURRENCY = 256;
const DEFAULT_POLL_INTERVAL_MS = 1000;

export class OutboxWorker {
  // Claims of this process; a restarted process has a new id and waits for the old leases to end.
  private readonly instanceId = randomUUID();
  private readonly leaseMs: number;
  private readonly finisher: WriteBatcher<Finished, Recorded | undefined>;
  private readonly firstTries: FirstTryQueue;
  private readonly delivery: PeerDelivery;
  private readonly inFlight = new Map<number, Promise<MessageStatus>>();
  private timer: NodeJS.Timeout | undefined;
  private claiming: Promise<void> | undefined;
  private claimAgain = false;
  /** Entries were written that no attempt took at once: some may wait behind one in flight. */
  private entriesWaiting = false;
  private stopped = false;

  constructor(private readonly options: OutboxWorkerOptions) {
    // Longer than an attempt takes, so a live worker rarely loses an entry it is sending; if it
    // does, the entry is only sent twice (the receiver keeps one), never out of order, as the
    // receiver's next entry waits until this one is gone. Short, so a crashed worker's entries
    // wait little.
    this.leaseMs = options.timeoutMs + LEASE_MARGIN_MS;
    this.finisher = new WriteBatcher((entries) => options.repository.finish(entries, this.now()));
    this.firstTries = new FirstTryQueue(options.firstTryWaitMs ?? DEFAULT_FIRST_TRY_WAIT_MS);
    this.delivery = new PeerDelivery(options.client, options.peers, options.logger);
  }

  start(): void {
    this.timer = setInterval(() => this.claim(), this.options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS);
    this.timer.unref();
    this.claiming = this.options.repository
      .releaseWaiting(this.now())
      .catch((error: unknown) => this.options.logger.error({ err: error }, 'outbox: releasing waiting entries failed'))
      .finally(() => {
        this.claiming = undefined;
        this.claim();
      });
  }

  /** Stops claiming, and finishes the deliveries in hand. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.claiming;
    await Promise.allSettled([...this.inFlight.values()]);
    await this.finisher.drain();
  }

  /** The lease taken on an outbox entry written now, so that it can be tried at once. */
  lease(now: number): { by: string; until: number } {
    return { by: this.instanceId, until: now + this.leaseMs };
  }

  async firstTry(message: OutboundMessage, receiver: string): Promise<MessageStatus> {
    // Shutting down: the entry stays in the outbox, and its lease runs out for the next start.
    if (this.stopped) return 'queued';
    return this.firstTries.tryNow(receiver, this.track(message.entryId, this.attempt(message, 0)));
  }

  /** A send behind another in this process waits for it, then is tried once first in line. */
  async firstTryBehind(message: OutboundMessage, receiver: string): Promise<MessageStatus> {
    const answer = this.stopped ? undefined : this.firstTries.tryAfterLast(receiver, () => this.tryOnceFirst(message));
    if (!answer) {
      this.wake();
      return 'queued';
    }
    // Whatever happens to it, the end of the entry ahead has the worker look for this one.
    this.entriesWaiting = true;
    return answer;
  }

  /** Tries an entry that was behind another, now that the one ahead has ended, unless the worker has it. */
  private async tryOnceFirst(message: OutboundMessage): Promise<MessageStatus> {
    const running = this.inFlight.get(message.entryId);
    if (running || this.stopped) return running ?? 'queued';
    try {
      const now = this.now();
      if (!(await this.options.repository.claimEntry(message.entryId, now, this.lease(now)))) {
        // Refused: an entry is still ahead (the one before was rescheduled), or a worker holds it.
        // This process's claim loop may have just taken it, and tracks it before it ends.
        await this.claiming;
        return this.inFlight.get(message.entryId) ?? 'queued';
      }
    } catch (error) {
      this.options.logger.error({ err: error, message_id: message.messageId }, 'outbox: claiming an entry failed');
      return 'queued';
    }
    return this.track(message.entryId, this.attempt(message, 0));
  }

  /** New entries wait for the worker (called by whoever wrote them). */
  wake(): void {
    this.entriesWaiting = true;
    this.claim();
  }

  /** Entries waiting, and the age of the oldest (for metrics). */
  async backlog(): Promise<{ depth: number; oldestAgeMs: number }> {
    const { depth, oldestCreatedAt } = await this.options.repository.backlog();
    return { depth, oldestAgeMs: oldestCreatedAt === null ? 0 : Math.max(0, this.now() - oldestCreatedAt) };
  }

  private claim(): void {
    if (this.stopped) return;
    if (this.claiming) {
      this.claimAgain = true;
      return;
    }
    this.claiming = this.claimLoop().finally(() => {
      this.claiming = undefined;
    });
  }

  private async claimLoop(): Promise<void> {
    try {
      let full: boolean;
      do {
        this.claimAgain = false;
        const free = (this.options.concurrency ?? DEFAULT_CONCURRENCY) - this.inFlight.size;
        if (free <= 0 || this.stopped) return;
        const now = this.now();
        const entries = await this.options.repository.claimDue(now, free, this.lease(now));
        for (const entry of entries) {
          if (!this.inFlight.has(entry.entryId)) this.track(entry.entryId, this.retry(entry));
        }
        full = entries.length === free;
        // Nothing of ours in flight and nothing more due: what is left waits for its time (the timer).
        if (!full && this.inFlight.size === 0) this.entriesWaiting = false;
      } while ((this.claimAgain || full) && !this.stopped);
    } catch (error) {
      this.options.logger.error({ err: error }, 'outbox: claiming entries failed');
    }
  }

  private track(entryId: number, attempt: Promise<MessageStatus>): Promise<MessageStatus> {
    const settled = attempt.finally(() => {
      this.inFlight.delete(entryId);
    });
    this.inFlight.set(entryId, settled);
    return settled;
  }

  private async retry(entry: ClaimedEntry): Promise<MessageStatus> {
    const message = outboundMessage(entry);
    // Deleted before it went: the message is not sent, and an edit is superseded by the delete behind it.
    if (entry.deleted && entry.op?.kind !== 'delete') return this.finish(message, 'delivered', null, true);
    if (entry.op?.kind === 'delete') return this.attempt(message, entry.attempts);
    try {
      // An edit sends the text as it is now: a later edit only repeats it.
      message.text = openAtRest(this.options.ring, entry.body, String(entry.messageId));
    } catch (error) {
      // Without the key that sealed it, the text cannot be sent; it stays queued for an operator.
      this.options.logger.error({ err: error, message_id: entry.messageId }, 'outbox: cannot open a queued message');
      return this.reschedule(message, entry.attempts + 1, 'cannot open the stored text');
    }
    return this.attempt(message, entry.attempts);
  }

  /** One delivery attempt and its bookkeeping; resolves with the message's status afterwards. */
  private async attempt(message: OutboundMessage, attemptsBefore: number): Promise<MessageStatus> {
    try {
      const outcome = await this.delivery.attempt(message);
      if (outcome.kind === 'retry') return await this.reschedule(message, attemptsBefore + 1, outcome.reason);
      return await this.finish(message, outcome.status, outcome.failureCode);
    } catch (error) {
      this.options.logger.error({ err: error, message_id: message.messageId }, 'outbox: delivery bookkeeping failed');
      return 'queued';
    }
  }

  /** Ends an entry; `skipped` when there was nothing left to send. A change's end leaves the message's status alone. */
  private async finish(message: OutboundMessage, status: 'delivered' | 'failed', failureCode: string | null, skipped = false): Promise<MessageStatus> {
    const entryOnly = skipped || message.op !== undefined;
    const recorded = await this.finisher.submit({
      entryId: message.entryId,
      messageId: message.messageId,
      status,
      failureCode,
      entryOnly,
      senderUserId: message.senderUserId || null,
    });
    if (!entryOnly) this.options.onFinished(message.messageId, status, recorded);
    // The receiver's next entry, if there is one, has become first in line.
    if (this.entriesWaiting) this.claim();
    return status;
  }

  /** Releases an entry for a later attempt, or ends it as failed once FEDERATION_GIVE_UP has passed. */
  private async reschedule(message: OutboundMessage, attempts: number, reason: string): Promise<MessageStatus> {
    const now = this.now();
    const deadline = message.createdAt + this.options.giveUpMs;
    if (now >= deadline) {
      this.options.logger.warn({ message_id: message.messageId, peer: message.peer, reason }, 'outbox: giving up on a message');
      return this.finish(message, 'failed', 'gave_up');
    }
    const delay = retryDelay(attempts, (this.options.random ?? Math.random)());
    await this.options.repository.reschedule(message.entryId, this.instanceId, attempts, Math.min(now + delay, deadline), reason);
    return 'queued';
  }

  private now(): number {
    return (this.options.clock ?? Date.now)();
  }
}
