// Key rotation at rest: re-seals every stored message, then every answer kept with a peer's
// receipt, under the current ENCRYPTION_KEY, in batches committed one by one, so an interrupted
// run loses nothing and the next run goes on from what is left.
import { AtRestDecryptionError, isSealedWithCurrentKey, openAtRest, sealAtRest, type KeyRing } from '../crypto/aead.js';
import { openFirstAnswer, sealFirstAnswer } from './receipts.js';
import type { RotationRepository } from './rotation-repository.js';

export interface RotationProgress {
  /** Messages re-sealed so far in this run. */
  done: number;
  /** Messages not under the current key when the run started. */
  total: number;
}

export interface RotationResult extends RotationProgress {
  /** Messages no configured key opens (their key was removed), left as they are. */
  unreadable: number[];
}

export async function rotateMessageKeys(
  repository: RotationRepository,
  ring: KeyRing,
  options: { batchSize: number; onProgress(progress: RotationProgress): void },
): Promise<RotationResult> {
  // aead.ts stores `v1.<key id>.<payload>`: everything else needs re-sealing.
  const currentPrefix = `v1.${ring.currentKeyId}.`;
  const total = await repository.countSealedWithOtherKeys(currentPrefix);
  const unreadable: number[] = [];
  let done = 0;
  let afterId = 0;
  for (;;) {
    const rows = await repository.sealedWithOtherKeys(currentPrefix, afterId, options.batchSize);
    if (rows.length === 0) break;
    afterId = rows[rows.length - 1]!.id;
    const changes = [];
    for (const row of rows) {
      if (isSealedWithCurrentKey(ring, row.body)) continue;
      try {
        const text = openAtRest(ring, row.body, String(row.id));
        changes.push({ id: row.id, from: row.body, to: sealAtRest(ring, text, String(row.id)) });
      } catch (error) {
        if (!(error instanceof AtRestDecryptionError)) throw error;
        unreadable.push(row.id);
      }
    }
    done += await repository.replaceBodies(changes);
    options.onProgress({ done, total });
  }
  return { done, total, unreadable };
}

export interface AnswersRotationResult extends RotationProgress {
  /** Kept answers no configured key opens; a repeat of their request is answered with the message's text. */
  unreadable: number;
}

/** Re-seals the answers kept with peers' receipts under the current key. */
export async function rotateAnswerKeys(
  repository: RotationRepository,
  ring: KeyRing,
  options: { batchSize: number; onProgress(progress: RotationProgress): void },
): Promise<AnswersRotationResult> {
  const currentPrefix = `v1.${ring.currentKeyId}.`;
  const total = await repository.countAnswersSealedWithOtherKeys(currentPrefix);
  let done = 0;
  let unreadable = 0;
  let after: { peer: string; requestKey: string } | undefined;
  for (;;) {
    const rows = await repository.answersSealedWithOtherKeys(currentPrefix, after, options.batchSize);
    if (rows.length === 0) break;
    after = rows[rows.length - 1]!;
    const changes = [];
    for (const row of rows) {
      const text = openFirstAnswer(ring, row.answer, row);
      if (text === undefined) unreadable += 1;
      else changes.push({ peer: row.peer, requestKey: row.requestKey, from: row.answer, to: sealFirstAnswer(ring, text, row) });
    }
    done += await repository.replaceAnswers(changes);
    options.onProgress({ done, total });
  }
  return { done, total, unreadable };
}
