// The next transaction to a peer (federation.md, "Transactions"): its due outbox entries in
// order, as many as fit in FEDERATION_BATCH items and FEDERATION_BATCH_BYTES of serialized items.
// Pure; the outbox builds each transaction it sends with it.
import type { TransactionItem } from './protocol.js';

export interface BatchLimits {
  /** FEDERATION_BATCH: the most items. */
  items: number;
  /** FEDERATION_BATCH_BYTES: the most bytes of the JSON array of items, the plaintext of the transaction's token. */
  bytes: number;
}

export interface Batch<E> {
  /** The entries taken, a prefix of the due entries: order per receiver is kept by never skipping one. */
  entries: E[];
  items: TransactionItem[];
  /** Bytes of the JSON array of `items`. */
  bytes: number;
}

/**
 * The longest prefix of `due` within the limits; a first item over the byte limit still goes,
 * alone, since it would otherwise never go. `itemOf` is called for the entries taken and the
 * first one left out, no others.
 */
export function nextBatch<E>(due: readonly E[], itemOf: (entry: E) => TransactionItem, limits: BatchLimits): Batch<E> {
  const batch: Batch<E> = { entries: [], items: [], bytes: 2 };
  for (const entry of due) {
    if (batch.items.length >= limits.items) break;
    const item = itemOf(entry);
    // One comma before every item but the first.
    const bytes = Buffer.byteLength(JSON.stringify(item)) + (batch.items.length > 0 ? 1 : 0);
    if (batch.items.length > 0 && batch.bytes + bytes > limits.bytes) break;
    batch.entries.push(entry);
    batch.items.push(item);
    batch.bytes += bytes;
  }
  return batch;
}
