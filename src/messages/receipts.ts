// Receipts make a peer's deliveries exactly-once for as long as the peer may repeat them: its
// outbox retries one id, with fresh tokens, until FEDERATION_GIVE_UP, and each token is good for
// FEDERATION_MAX_AGE. Past that window a receipt guards nothing, and is deleted.
import type { Logger } from 'pino';
import { PeriodicJob, pruneIntervalFor } from '../jobs/periodic-job.js';
import type { MessagesRepository } from './repository.js';

export interface ReceiptPruningOptions {
  repository: Pick<MessagesRepository, 'pruneReceipts'>;
  /** How long a receipt is kept: FEDERATION_GIVE_UP + FEDERATION_MAX_AGE. */
  windowMs: number;
  logger: Logger;
  clock: () => number;
  /** How often receipts are pruned; by default a tenth of the window, between 1 s and 1 h. */
  intervalMs?: number;
}

const PRUNE_BATCH = 5000;

export function receiptPruning(options: ReceiptPruningOptions): PeriodicJob {
  return new PeriodicJob(async () => {
    const cutoff = options.clock() - options.windowMs;
    let removed = 0;
    try {
      let batch: number;
      do {
        batch = await options.repository.pruneReceipts(cutoff, PRUNE_BATCH);
        removed += batch;
      } while (batch >= PRUNE_BATCH);
    } catch (error) {
      options.logger.warn({ err: error }, 'federation receipts: pruning failed');
    }
    if (removed > 0) options.logger.info({ removed }, 'federation receipts: pruned old receipts');
  }, options.intervalMs ?? pruneIntervalFor(options.windowMs));
}
