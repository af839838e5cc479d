// Request receipts: the record of each peer request that stored or changed a message, which makes
// a peer's deliveries exactly-once for as long as the peer may repeat them: its outbox retries one
// id, with fresh tokens, until FEDERATION_GIVE_UP, and each token is good for FEDERATION_MAX_AGE.
// Past that window a receipt guards nothing, and is pruned.
import type { Kysely, Transaction } from 'kysely';
import type { Logger } from 'pino';
import type { DatabaseKind } from '../db/database.js';
import { insertRows } from '../db/insert-rows.js';
import type { Tables } from '../db/schema.js';
import { requestKeyOf, type RequestKey, type RequestReceipts } from '../messages/ports.js';
import { PeriodicJob, pruneIntervalFor } from '../jobs/periodic-job.js';

export class RequestReceiptsRepository implements RequestReceipts {
  constructor(
    private readonly db: Kysely<Tables>,
    private readonly kind: DatabaseKind,
  ) {}

  async findMessageIds(keys: RequestKey[], trx: Kysely<Tables> | Transaction<Tables> = this.db): Promise<Map<string, number>> {
    if (keys.length === 0) return new Map();
    const rows = await trx
      .selectFrom('federation_receipts')
      .select(['peer', 'request_key', 'message_id'])
      // Both columns of the primary key: with the request keys alone SQLite scans every receipt.
      .where('peer', 'in', [...new Set(keys.map((key) => key.peer))])
      .where('request_key', 'in', [...new Set(keys.map((key) => key.requestKey))])
      .execute();
    return new Map(rows.map((row) => [requestKeyOf({ peer: row.peer, requestKey: row.request_key }), Number(row.message_id)]));
  }

  async record(receipts: (RequestKey & { messageId: number })[], now: number, trx: Transaction<Tables>): Promise<void> {
    if (receipts.length === 0) return;
    await insertRows(
      trx,
      this.kind,
      'federation_receipts',
      receipts.map((receipt) => ({ peer: receipt.peer, request_key: receipt.requestKey, message_id: receipt.messageId, created_at: now })),
    );
  }

  async recordOnce(receipt: RequestKey & { messageId: number }, now: number, trx: Transaction<Tables>): Promise<boolean> {
    const inserted = await trx
      .insertInto('federation_receipts')
      .values({ peer: receipt.peer, request_key: receipt.requestKey, message_id: receipt.messageId, created_at: now })
      .onConflict((conflict) => conflict.columns(['peer', 'request_key']).doNothing())
      .executeTakeFirst();
    return Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  /** Deletes receipts made before `cutoff`, the oldest `limit` of them at most (give or take a tie); answers how many. */
  async prune(cutoff: number, limit: number): Promise<number> {
    const oldest = this.db.selectFrom('federation_receipts').select('request_key').where('created_at', '<', cutoff).orderBy('created_at').limit(limit);
    const result = await this.db.deleteFrom('federation_receipts').where('created_at', '<', cutoff).where('request_key', 'in', oldest).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

export interface ReceiptPruningOptions {
  repository: Pick<RequestReceiptsRepository, 'prune'>;
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
        batch = await options.repository.prune(cutoff, PRUNE_BATCH);
        removed += batch;
      } while (batch >= PRUNE_BATCH);
    } catch (error) {
      options.logger.warn({ err: error }, 'federation receipts: pruning failed');
    }
    if (removed > 0) options.logger.info({ removed }, 'federation receipts: pruned old receipts');
  }, options.intervalMs ?? pruneIntervalFor(options.windowMs));
}
