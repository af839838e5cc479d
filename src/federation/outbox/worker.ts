// The outbox worker: delivers queued messages, changes and read markers to peers, each entry by
// one worker, per receiver in order, retrying with backoff until FEDERATION_GIVE_UP. Each peer
// has a lane here (lane.ts) with one transaction in flight; a new message is handed to its lane
// by the instance that wrote it and leaves at once, and its sender's answer waits for it briefly.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { KeyRing } from '../../crypto/aead.js';
import type { OutboundMessage, Recorded } from '../../messages/ports.js';
import type { MessageStatus } from '../../messages/view.js';
import { WriteBatcher } from '../../db/write-batcher.js';
import type { FederationClient, TransactionOutcome } from '../client.js';
import type { HttpFunction } from '../http.js';
import type { PeerDirectory } from '../peers.js';
import type { BatchLimits } from '../transactions/batch.js';
import type { ItemOf } from '../transactions/protocol.js';
import { TransactionSupport } from '../transactions/support.js';
import { PeerDelivery } from './delivery.js';
import { PeerLane, type LaneContext } from './lane.js';
import { GAVE_UP_CODE, type Finished, type FinishOutcome, type OutboxRepository } from './repository.js';
import type { Ended } from './settle.js';
import { carriesDelivery } from '../transactions/items.js';
import { StatusWaiters, waitingLine, type EntryEnd } from './waiters.js';

export interface OutboxWorkerOptions {
  repository: OutboxRepository;
  client: FederationClient;
  peers: PeerDirectory;
  ring: KeyRing;
  logger: Logger;
  timeoutMs: number;
  giveUpMs: number;
  /** FEDERATION_BATCH and FEDERATION_BATCH_BYTES. */
  batch: BatchLimits;
  /** Told when a message's entry ends, with the `status` event recorded for its sender. */
  onFinished(messageId: number, status: 'delivered' | 'failed', recorded: Recorded | undefined): void;
  /** Told of each transaction sent: its peer, its items, how long the answer took and what it was. */
  onTransaction?(peer: string, items: number, ms: number, outcome: TransactionOutcome['kind']): void;
  clock?: () => number;
  random?: () => number;
  /** How long a send waits for its first try before answering `queued`; by default the peer's timeout (FEDERATION_TIMEOUT). */
  firstTryWaitMs?: number;
  /** How often due entries are looked for when nothing wakes the worker. */
  pollIntervalMs?: number;
}

/** What tests and benchmarks may change about delivery. */
export type OutboxTuning = Partial<Pick<OutboxWorkerOptions, 'firstTryWaitMs' | 'pollIntervalMs' | 'random'>> & {
  /** The HTTP function that reaches peers (by default node:http with keep-alive, federation/http.ts). */
  http?: HttpFunction;
};

const LEASE_MARGIN_MS = 2_000;
const DEFAULT_POLL_INTERVAL_MS = 1000;

export class OutboxWorker {
  // Claims of this process; a restarted process has a new id and waits for the old leases to end.
  private readonly instanceId = randomUUID();
  private readonly leaseMs: number;
  private readonly finisher: WriteBatcher<Finished, FinishOutcome>;
  private readonly waiters: StatusWaiters;
  private readonly lanes = new Map<string, PeerLane>();
  private readonly context: LaneContext;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private lookAgain = false;
  private stopped = false;

  constructor(private readonly options: OutboxWorkerOptions) {
    // Longer than a transaction takes, so a live worker rarely loses an entry it is sending; if it
    // does, the entry is only sent twice (the receiver keeps one), never out of order, as the
    // receiver's next entry waits until this one is gone. Short, so a crashed worker's entries
    // wait little.
    this.leaseMs = options.timeoutMs + LEASE_MARGIN_MS;
    this.finisher = new WriteBatcher((entries) => options.repository.finish(entries, this.now()));
    // `queued` says the peer could not be reached (federation.md): a peer that answers within its
    // timeout, however loaded, answers the send.
    this.waiters = new StatusWaiters(options.firstTryWaitMs ?? options.timeoutMs);
    this.context = {
      repository: options.repository,
      client: options.client,
      delivery: new PeerDelivery(options.client, options.peers, options.logger),
      support: new TransactionSupport(() => this.now()),
      ring: options.ring,
      logger: options.logger,
      limits: options.batch,
      giveUpMs: options.giveUpMs,
      now: () => this.now(),
      random: () => (options.random ?? Math.random)(),
      lease: (now) => this.lease(now),
      attemptMs: options.timeoutMs,
      end: (entries) => this.end(entries),
      requeued: (lines) => this.waiters.requeued(lines),
      observe: (peer, items, ms, outcome) => options.onTransaction?.(peer, items, ms, outcome),
      stopped: () => this.stopped,
    };
  }

  start(): void {
    this.timer = setInterval(() => this.wake(), this.options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS);
    this.timer.unref();
    this.polling = this.options.repository
      .releaseWaiting(this.now())
      .catch((error: unknown) => this.options.logger.error({ err: error }, 'outbox: releasing waiting entries failed'))
      .finally(() => {
        this.polling = undefined;
        this.wake();
      });
  }

  /** Stops claiming, and finishes the transactions in hand. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.polling;
    await Promise.allSettled([...this.lanes.values()].map((lane) => lane.idle()));
    await this.finisher.drain();
    this.waiters.releaseAll();
  }

  /** The lease taken on an outbox entry written now, so that it can be sent at once. */
  lease(now: number): { by: string; until: number } {
    return { by: this.instanceId, until: now + this.leaseMs };
  }

  /** A message whose entry was claimed as it was written: it leaves in its peer's next transaction. */
  async firstTry(message: OutboundMessage, receiver: string): Promise<MessageStatus> {
    return (await this.tryAtOnce(message, receiver, true)).status;
  }

  /**
   * A message written behind another of its receiver: when this process is sending that one, or
   * has just sent it, it leaves right after it, and the sender waits as for a first try; else it
   * waits its turn, `queued`.
   */
  async firstTryBehind(message: OutboundMessage, receiver: string): Promise<MessageStatus> {
    return (await this.tryAtOnce(message, receiver, false)).status;
  }

  /**
   * An entry just written, sent at once when it was claimed as it was written (or when this
   * process carries the one before it on its line): how it ended within `waitMs` (by default the
   * first-try wait), else `queued`.
   */
  async tryAtOnce(message: OutboundMessage, receiver: string, claimed: boolean, waitMs?: number): Promise<EntryEnd> {
    // Shutting down: the entry stays in the outbox, and its lease runs out for the next start.
    if (this.stopped) return { status: 'queued' };
    const lane = this.laneOf(message.peer);
    if (!claimed && !lane.carriesNext(receiver)) {
      this.wake();
      return { status: 'queued' };
    }
    const answer = this.waiters.wait(message.entryId, waitingLine(message.peer, receiver), waitMs);
    if (claimed) lane.hand(message, receiver, this.lease(message.createdAt).until);
    else lane.behind(receiver);
    return answer;
  }

  /** A verified request came from the peer: it is up, and what waits out a backoff to it may go now. */
  heardFrom(peer: string): void {
    if (!this.stopped) this.laneOf(peer).heardFrom();
  }

  /** A typing indicator to a peer's user: in the peer's next transaction, or nowhere (best effort). */
  sendTyping(peer: string, item: ItemOf<'typing'>): void {
    if (!this.stopped) this.laneOf(peer).sendTyping(item);
  }

  /** Entries were written or became due: the peers that have some look for them. */
  wake(peer?: string): void {
    if (this.stopped) return;
    if (peer !== undefined) {
      this.laneOf(peer).wake();
      return;
    }
    // A wake during a look may be about entries the look did not see: it looks once more after it.
    if (this.polling) {
      this.lookAgain = true;
      return;
    }
    this.polling = this.options.repository
      .duePeers(this.now())
      .then((servers) => servers.forEach((server) => this.laneOf(server).wake()))
      .catch((error: unknown) => this.options.logger.error({ err: error }, 'outbox: looking for due entries failed'))
      .finally(() => {
        this.polling = undefined;
        if (this.lookAgain) {
          this.lookAgain = false;
          this.wake();
        }
      });
  }

  /** Entries waiting, and the age of the oldest (for metrics). */
  async backlog(): Promise<{ depth: number; oldestAgeMs: number }> {
    const { depth, oldestCreatedAt } = await this.options.repository.backlog();
    return { depth, oldestAgeMs: oldestCreatedAt === null ? 0 : Math.max(0, this.now() - oldestCreatedAt) };
  }

  private laneOf(server: string): PeerLane {
    const peer = this.options.peers.find(server);
    const name = peer?.name ?? server;
    let lane = this.lanes.get(name.toLowerCase());
    if (!lane) {
      lane = new PeerLane(name, peer, this.context);
      this.lanes.set(name.toLowerCase(), lane);
    }
    return lane;
  }

  /**
   * Finishes entries together; a change's end (or a group item's but a post's of a new message)
   * leaves its message's status alone. Answers whether their end made due an entry that waited behind.
   */
  private async end(entries: Ended[]): Promise<boolean> {
    const gaveUp = entries.filter((entry) => entry.failureCode === GAVE_UP_CODE);
    if (gaveUp.length > 0) {
      const peers = [...new Set(gaveUp.map((entry) => entry.message.peer))];
      this.options.logger.warn({ peers, entries: gaveUp.length, message_ids: gaveUp.slice(0, 20).map((entry) => entry.message.messageId) }, 'outbox: gave up on entries older than FEDERATION_GIVE_UP; their messages are failed');
    }
    const outcomes = await Promise.all(
      entries.map(async ({ message, status, failureCode, answer }) => {
        const entryOnly = !carriesDelivery(message.group?.item, message.op) || message.messageId === null;
        const { recorded, released } = await this.finisher.submit({
          entryId: message.entryId,
          messageId: message.messageId,
          status,
          failureCode,
          entryOnly,
          senderUserId: message.senderUserId || null,
        });
        if (!entryOnly) this.options.onFinished(message.messageId!, status, recorded);
        this.waiters.ended(message.entryId, { status, failureCode, ...(answer ? { answer } : {}) });
        return released;
      }),
    );
    return outcomes.includes(true);
  }

  private now(): number {
    return (this.options.clock ?? Date.now)();
  }
}
