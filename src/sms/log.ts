// The development SmsVerifier, used when no Vonage credentials are configured: it writes the code
// to the server log instead of sending it, and otherwise behaves like Vonage Verify.
import { createHash, randomInt, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import {
  assertE164,
  isWellFormedCode,
  verificationCodeLength,
  VerificationInProgress,
  type CheckOutcome,
  type SmsVerifier,
} from './provider.js';

export interface LogVerifierOptions {
  logger: Logger;
  /** Milliseconds since the epoch. */
  clock?: () => number;
  ttlMs?: number;
  /** Wrong codes after which the verification is void. */
  maxAttempts?: number;
}

interface Pending {
  phoneNumber: string;
  codeDigest: Buffer;
  expiresAt: number;
  wrongAttempts: number;
}

export class LogVerifier implements SmsVerifier {
  readonly name = 'log';
  private readonly logger: Logger;
  private readonly clock: () => number;
  private readonly ttlMs: number;
  private readonly maxAttempts: number;
  private readonly pending = new Map<string, Pending>();

  constructor({ logger, clock = Date.now, ttlMs = 5 * 60_000, maxAttempts = 5 }: LogVerifierOptions) {
    this.logger = logger.child({ sms_provider: this.name });
    this.clock = clock;
    this.ttlMs = ttlMs;
    this.maxAttempts = maxAttempts;
  }

  async start(phoneNumber: string): Promise<{ requestId: string }> {
    assertE164(phoneNumber);
    this.forgetExpired();
    // Refuse a second code to the same number like Vonage does, so routes meet that case in development.
    for (const [requestId, pending] of this.pending) {
      if (pending.phoneNumber === phoneNumber) throw new VerificationInProgress(requestId);
    }
    const requestId = randomUUID();
    const code = String(randomInt(10 ** verificationCodeLength)).padStart(verificationCodeLength, '0');
    this.pending.set(requestId, {
      phoneNumber,
      codeDigest: digest(code),
      expiresAt: this.clock() + this.ttlMs,
      wrongAttempts: 0,
    });
    this.logger.warn(
      { phone_number: phoneNumber, code, request_id: requestId },
      'SMS verification code (no SMS provider is configured, so the code is logged instead of sent)',
    );
    return { requestId };
  }

  async check(requestId: string, code: string): Promise<CheckOutcome> {
    const pending = this.pending.get(requestId);
    if (!pending || this.clock() >= pending.expiresAt) {
      this.pending.delete(requestId);
      return 'expired';
    }
    if (!isWellFormedCode(code)) return 'invalid_code';
    // Digests have one length, so the comparison takes the same time whatever was typed.
    if (timingSafeEqual(digest(code), pending.codeDigest)) {
      this.pending.delete(requestId);
      return 'verified';
    }
    pending.wrongAttempts += 1;
    if (pending.wrongAttempts < this.maxAttempts) return 'invalid_code';
    this.pending.delete(requestId);
    return 'too_many_attempts';
  }

  async cancel(requestId: string): Promise<void> {
    this.pending.delete(requestId);
  }

  private forgetExpired(): void {
    const now = this.clock();
    for (const [requestId, pending] of this.pending) {
      if (now >= pending.expiresAt) this.pending.delete(requestId);
    }
  }
}

function digest(code: string): Buffer {
  return createHash('sha256').update(code).digest();
}
