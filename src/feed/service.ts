// The change feed: a user's events after a seq, exactly as the WebSocket sends them, and the
// pruning of events older than EVENT_RETENTION. Asking from below what was pruned is 410 gone,
// with the seq to continue from once the client has reloaded its conversations.
import type { Logger } from 'pino';
import { Gone } from '../http/errors.js';
import { pageOf } from '../http/pagination.js';
import { PeriodicJob, pruneIntervalFor } from '../jobs/periodic-job.js';
import type { MessageRow } from '../messages/repository.js';
import type { MessageView } from '../messages/service.js';
import { feedEvent, type FeedEvent } from './events.js';
import type { FeedRepository } from './repository.js';

export interface FeedPage {
  results: FeedEvent[];
  next: number | null;
}

export interface FeedServiceOptions {
  repository: FeedRepository;
  /** A stored message as clients see it (decrypted). */
  render(row: MessageRow): MessageView;
  retentionMs: number;
  logger: Logger;
  clock?: () => number;
  /** How often old events are pruned; by default a tenth of the retention, at most hourly. */
  pruneIntervalMs?: number;
}

const PRUNE_BATCH = 5000;

export class FeedService {
  private readonly options: FeedServiceOptions;
  private readonly clock: () => number;
  private readonly pruning: PeriodicJob;

  constructor(options: FeedServiceOptions) {
    this.options = options;
    this.clock = options.clock ?? Date.now;
    this.pruning = new PeriodicJob(() => this.prune(), options.pruneIntervalMs ?? pruneIntervalFor(options.retentionMs));
  }

  async page(userId: number, after: number, limit: number): Promise<FeedPage> {
    const rows = await this.options.repository.page(userId, after, limit + 1);
    // Read after the rows: a prune that removed some of them has already raised the mark.
    const prunedThrough = await this.options.repository.prunedThrough();
    if (after < prunedThrough) {
      const head = await this.options.repository.head(userId);
      const seq = Math.max(head, prunedThrough);
      throw new Gone(`Events after ${after} have been pruned: reload the conversations and histories, then continue after ${seq}.`, { seq });
    }
    const page = pageOf(rows, limit, (last) => last.seq);
    return {
      results: page.results.map((row) => feedEvent(row.type, row.seq, row.message ? this.options.render(row.message) : undefined, row.data ? (JSON.parse(row.data) as Record<string, unknown>) : undefined)),
      next: page.next,
    };
  }

  /** The user's latest seq (0 when none): where a socket that asked for no replay starts. */
  head(userId: number): Promise<number> {
    return this.options.repository.head(userId);
  }

  startPruning(): void {
    this.pruning.start();
  }

  stopPruning(): Promise<void> {
    return this.pruning.stop();
  }

  /** Prunes what is older than the retention. */
  private async prune(): Promise<void> {
    try {
      const removed = await this.options.repository.prune(this.clock() - this.options.retentionMs, PRUNE_BATCH);
      if (removed > 0) this.options.logger.info({ removed }, 'change feed: pruned old events');
    } catch (error) {
      this.options.logger.warn({ err: error }, 'change feed: pruning failed');
    }
  }
}
