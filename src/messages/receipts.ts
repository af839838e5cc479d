// Receipts make a peer's deliveries exactly-once for as long as the peer may repeat them: its
// outbox retries one id, with fresh tokens, until FEDERATION_GIVE_UP, and each token is good for
// FEDERATION_MAX_AGE. Past that window a receipt guards nothing, and is deleted.
import type { Logger } from 'pino';
import type { MessagesRepository } from './repository.js';

export interface ReceiptPrunerOptions {
  repository: Pick<MessagesRepository, 'pruneReceipts'>;
  /** How long a receipt is kept: FEDERATION_GIVE_UP + FEDERATION_MAX_AGE. */
  windowMs: number;
  logger: Logger;
  clock: () => number;
  /** How often receipts are pruned; by default a tenth of the window, between 1 s and 1 h. */
  intervalMs?: number;
}

const PRUNE_BATCH = 5000;

export class ReceiptPruner {
  private timer: NodeJS.Timeout | undefined;
  private pruning: Promise<void> | undefined;

  constructor(private readonly options: ReceiptPrunerOptions) {}

  start(): void {
    const interval = this.options.intervalMs ?? Math.min(3_600_000, Math.max(1000, Math.floor(this.options.windowMs / 10)));
    this.timer = setInterval(() => void this.pruneNow(), interval);
    this.timer.unref();
    void this.pruneNow();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.pruning;
  }

  /** Deletes every receipt older than the window, in batches; one run at a time. */
  pruneNow(): Promise<void> {
    this.pruning ??= this.pruneAll()
      .then(
        (removed) => {
          if (removed > 0) this.options.logger.info({ removed }, 'federation receipts: pruned old receipts');
        },
        (error: unknown) => this.options.logger.warn({ err: error }, 'federation receipts: pruning failed'),
      )
      .finally(() => {
        this.pruning = undefined;
      });
    return this.pruning;
  }

  private async pruneAll(): Promise<number> {
    const cutoff = this.options.clock() - this.options.windowMs;
    let removed = 0;
    for (;;) {
      const batch = await this.options.repository.pruneReceipts(cutoff, PRUNE_BATCH);
      removed += batch;
      if (batch < PRUNE_BATCH) return removed;
    }
  }
}
