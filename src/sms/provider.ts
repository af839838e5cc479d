// The port every SMS verification provider implements, and the errors it may throw, so routes
// treat Vonage and the development log provider alike.
import { BadRequest, Conflict } from '../http/errors.js';

/** What checking a code concluded. Everything but `invalid_code` ends the verification. */
export type CheckOutcome = 'verified' | 'invalid_code' | 'expired' | 'too_many_attempts';

export interface SmsVerifier {
  readonly name: string;
  /**
   * Sends a code to `phoneNumber` (E.164 with its `+`). Throws `BadRequest('invalid_phone_number')`,
   * `VerificationInProgress` or `ServiceUnavailable('sms_unavailable')`; never returns half a result.
   */
  start(phoneNumber: string): Promise<{ requestId: string }>;
  /** `expired` also covers a request that is unknown or already finished: the user must start again. */
  check(requestId: string, code: string): Promise<CheckOutcome>;
  /** Ends a pending verification; cancelling one that is already gone succeeds. */
  cancel(requestId: string): Promise<void>;
}

/**
 * The provider refuses a second verification to a number while one is pending. `requestId` is
 * the pending one when the provider tells it, so the caller can check against it or cancel it.
 */
export class VerificationInProgress extends Conflict {
  constructor(readonly requestId: string | undefined) {
    super('verification_in_progress', 'A verification code was already sent to this number. Enter it or wait for it to expire.');
  }
}

/** Digits in every code we send; Vonage is asked for this length too. */
export const verificationCodeLength = 6;

const e164 = /^\+[1-9][0-9]{6,14}$/;
const wellFormedCode = new RegExp(`^[0-9]{${verificationCodeLength}}$`);

/** Both providers refuse the same malformed numbers before spending an SMS on them. */
export function assertE164(phoneNumber: string): void {
  if (!e164.test(phoneNumber)) {
    throw new BadRequest('invalid_phone_number', 'The phone number must be in international E.164 format, such as +447700900123.');
  }
}

/** A code of the wrong shape cannot match, so providers answer `invalid_code` without spending an attempt. */
export function isWellFormedCode(code: string): boolean {
  return wellFormedCode.test(code);
}
