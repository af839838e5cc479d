// Key rotation at rest: re-seals every stored message under STORAGE_KEY, in batches committed
// one by one, so an interrupted run loses nothing and the next run goes on from what is left.
import { AtRestDecryptionError, currentKeyPrefix, openAtRest, sealAtRest, type KeyRing } from '../crypto/aead.js';
import type { MessagesRepository } from './repository.js';

export interface RotationProgress {
  /** Values re-sealed so far in this run. */
  done: number;
  /** Values not under the current key when the run started. */
  total: number;
}

export interface RotationResult extends RotationProgress {
  /** Messages no configured key opens (their key was removed), left as they are. */
  unreadable: number[];
}

interface RotationOptions {
  batchSize: number;
  onProgress(progress: RotationProgress): void;
}

/** Sealed values not under the current key, as rotation walks them: in key order, batch after batch. */
interface SealedValues<Row> {
  count(): Promise<number>;
  after(last: Row | undefined, limit: number): Promise<Row[]>;
  /** The value sealed again under the current key; undefined when no configured key opens it. */
  reseal(row: Row): string | undefined;
  /** Stores the new values of rows that have not changed since they were read; answers how many. */
  replace(changes: { row: Row; to: string }[]): Promise<number>;
}

export async function rotateMessageKeys(repository: MessagesRepository, ring: KeyRing, options: RotationOptions): Promise<RotationResult> {
  const prefix = currentKeyPrefix(ring);
  const result = await rotate<{ id: number; body: string }>(
    {
      count: () => repository.countSealedWithOtherKeys(prefix),
      after: (last, limit) => repository.sealedWithOtherKeys(prefix, last?.id ?? 0, limit),
      reseal: (row) => {
        try {
          return sealAtRest(ring, openAtRest(ring, row.body, String(row.id)), String(row.id));
        } catch (error) {
          if (error instanceof AtRestDecryptionError) return undefined;
          throw error;
        }
      },
      replace: (changes) => repository.replaceBodies(changes.map(({ row, to }) => ({ id: row.id, from: row.body, to }))),
    },
    options,
  );
  return { ...result, unreadable: result.unreadable.map((row) => row.id) };
}

async function rotate<Row>(values: SealedValues<Row>, options: RotationOptions): Promise<RotationProgress & { unreadable: Row[] }> {
  const total = await values.count();
  const unreadable: Row[] = [];
  let done = 0;
  let last: Row | undefined;
  for (;;) {
    const rows = await values.after(last, options.batchSize);
    if (rows.length === 0) break;
    last = rows[rows.length - 1];
    const changes: { row: Row; to: string }[] = [];
    for (const row of rows) {
      const to = values.reseal(row);
      if (to === undefined) unreadable.push(row);
      else changes.push({ row, to });
    }
    done += await values.replace(changes);
    options.onProgress({ done, total });
  }
  return { done, total, unreadable };
}
