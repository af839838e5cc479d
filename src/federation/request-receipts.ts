// Request receipts: the record of each peer request that stored or changed a message, which makes
// a peer's deliveries exactly-once for as long as the peer may repeat them: its outbox retries one
// id, with fresh tokens, until FEDERATION_GIVE_UP, and each token is good for FEDERATION_MAX_AGE.
// Past that window a receipt guards nothing, and is pruned. An item that changes no message (a
// member's request to a group's home) keeps its first answer instead, for the same window.
import type { Kysely, Transaction } from 'kysely';
import type { Logger } from 'pino';
import type { DatabaseKind } from '../db/database.js';
import { insertRows } from '../db/insert-rows.js';
import { paddedList } from '../db/query-shapes.js';
import type { Tables } from '../db/schema.js';
import type { KeptAnswer, RequestAnswers } from '../groups/home.js';
import { requestKeyOf, type RequestKey, type RequestReceipts } from '../messages/ports.js';
import { PeriodicJob, pruneIntervalFor } from '../jobs/periodic-job.js';

export class RequestReceiptsRepository implements RequestReceipts, RequestAnswers {
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
      .where('peer', 'in', paddedList([...new Set(keys.map((key) => key.peer))]))
      .where('request_key', 'in', paddedList([...new Set(keys.map((key) => key.requestKey))]))
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

  /** The first answer given to this peer's item, if it was answered. */
  async findAnswer(peer: string, itemId: string): Promise<KeptAnswer | undefined> {
    const row = await this.db.selectFrom('federation_item_answers').select(['status', 'code', 'version']).where('peer', '=', peer).where('item_id', '=', itemId).executeTakeFirst();
    return row && { status: Number(row.status), code: row.code, version: row.version === null ? null : Number(row.version) };
  }

  /** Keeps an item's answer; a concurrent first answer stays the one kept. */
  async recordAnswer(peer: string, itemId: string, answer: KeptAnswer, now: number): Promise<void> {
    await this.db
      .insertInto('federation_item_answers')
      .values({ peer, item_id: itemId, status: answer.status, code: answer.code, version: answer.version, created_at: now })
      .onConflict((conflict) => conflict.columns(['peer', 'item_id']).doNothing())
      .execute();
  }

  /** The refusals (4xx) first answered to these items of the peer, by item id. */
  async findRefusals(peer: string, itemIds: string[]): Promise<Map<string, { status: number; code: string }>> {
    if (itemIds.length === 0) return new Map();
    const rows = await this.db
      .selectFrom('federation_item_answers')
      .select(['item_id', 'status', 'code'])
      .where('peer', '=', peer)
      .where('item_id', 'in', paddedList([...new Set(itemIds)]))
      .where('status', '>=', 400)
      .execute();
    return new Map(rows.map((row) => [row.item_id, { status: Number(row.status), code: row.code ?? 'refused' }]));
  }

  /** Keeps refusals as their items' first answers; one kept already (a member's request's) stays. */
  async recordRefusals(peer: string, refusals: { id: string; status: number; code: string }[], now: number): Promise<void> {
    if (refusals.length === 0) return;
    await this.db
      .insertInto('federation_item_answers')
      .values(refusals.map((refusal) => ({ peer, item_id: refusal.id, status: refusal.status, code: refusal.code, version: null, created_at: now })))
      .onConflict((conflict) => conflict.columns(['peer', 'item_id']).doNothing())
      .execute();
  }

  /**
   * Deletes receipts and answers made before `cutoff`, the oldest `limit` of each at most (give or
   * take a tie); answers how many in all, and whether either table may hold more to delete.
   */
  async prune(cutoff: number, limit: number): Promise<{ removed: number; more: boolean }> {
    let removed = 0;
    let more = false;
    for (const [table, key] of [
      ['federation_receipts', 'request_key'],
      ['federation_item_answers', 'item_id'],
    ] as const) {
      const oldest = this.db.selectFrom(table).select(key).where('created_at', '<', cutoff).orderBy('created_at').limit(limit);
      const result = await this.db.deleteFrom(table).where('created_at', '<', cutoff).where(key, 'in', oldest).executeTakeFirst();
      removed += Number(result.numDeletedRows);
      more ||= Number(result.numDeletedRows) >= limit;
    }
    return { removed, more };
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
  const run = async () => {
    const cutoff = options.clock() - options.windowMs;
    let removed = 0;
    for (let more = true; more; ) {
      const batch = await options.repository.prune(cutoff, PRUNE_BATCH);
      removed += batch.removed;
      more = batch.more;
    }
    return removed;
  };
  return new PeriodicJob({ name: 'federation receipts pruning', run, intervalMs: options.intervalMs ?? pruneIntervalFor(options.windowMs), logger: options.logger });
}
