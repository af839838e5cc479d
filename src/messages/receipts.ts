// The first answer to a peer's request, kept sealed with its receipt (a change's at once, a
// message's when a change alters its text), so that a repeat of the request is answered with it
// (federation.md, step 4), whatever happened to the message since.
import { AtRestDecryptionError, openAtRest, sealAtRest, type KeyRing } from '../crypto/aead.js';

export interface ReceiptKey {
  peer: string;
  requestKey: string;
}

// Binds the sealed answer to its receipt, so that it cannot be moved to another one.
const associatedData = ({ peer, requestKey }: ReceiptKey): string => `receipt:${peer}:${requestKey}`;

export function sealFirstAnswer(ring: KeyRing, text: string, receipt: ReceiptKey): string {
  return sealAtRest(ring, text, associatedData(receipt));
}

/**
 * What an earlier request was answered: the answer kept with its receipt, else the text of its
 * message now (no answer is kept until a change alters that text, and one no key opens any more,
 * after its key was removed, falls back the same way).
 */
export function firstAnswer(ring: KeyRing, kept: string | null, receipt: ReceiptKey, messageText: () => string): string {
  return (kept === null ? undefined : openFirstAnswer(ring, kept, receipt)) ?? messageText();
}

/** The answer, or undefined once no configured key opens it (its key was removed after rotation). */
export function openFirstAnswer(ring: KeyRing, sealed: string, receipt: ReceiptKey): string | undefined {
  try {
    return openAtRest(ring, sealed, associatedData(receipt));
  } catch (error) {
    if (error instanceof AtRestDecryptionError) return undefined;
    throw error;
  }
}
