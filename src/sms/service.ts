// Phone verification rules: which number a code proves, when a code is sent again or reused, how
// many tries a code gets, and what a provider failure leaves behind (nothing).
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { AccountsService } from '../accounts/service.js';
import { BadRequest, Conflict, HttpError, RateLimited } from '../http/errors.js';
import { giveBackBudgets, spendBudgets, type Budget, type RateLimitStore } from '../limits/rate-limiter.js';
import { assertE164, isWellFormedCode, verificationCodeLength, VerificationInProgress, type SmsVerifier } from './provider.js';
import type { PhoneVerification, PhoneVerificationRepository } from './repository.js';

/**
 * Codes sent per window for one user, from one client address, and to one number across
 * accounts: each SMS costs money. A number's budget is three accounts' worth, so one account
 * that puts someone else's number on its profile cannot use up the codes its owner needs.
 */
export const STARTS_PER_USER = 5;
export const STARTS_PER_ADDRESS = 10;
export const STARTS_PER_NUMBER = 3 * STARTS_PER_USER;
export const START_WINDOW_MS = 60 * 60_000;
/** Wrong codes after which a verification is void (Vonage itself allows a few more). */
export const MAX_WRONG_CODES = 3;
/** How long both providers keep a code: Vonage's channel_timeout and LogVerifier's default. */
export const CODE_LIFETIME_MS = 5 * 60_000;
/** Vonage refuses to cancel a verification younger than this. */
export const CANCELLABLE_AFTER_MS = 30_000;
/**
 * A start repeated sooner than this answers with the code already sent (double clicks, retries);
 * by then the previous code can be cancelled.
 */
export const RESEND_INTERVAL_MS = CANCELLABLE_AFTER_MS;
/** How long a start in flight holds its claim; far above the provider timeouts, so only a crash lets it lapse. */
const START_CLAIM_MS = 60_000;

type PendingVerification = PhoneVerification & { requestId: string };

/**
 * Another account's code of this number is too young to cancel, or is being sent: the number is
 * free again once it can be cancelled, so the wait is never a code's whole life.
 */
export class NumberBusy extends HttpError {
  constructor(retryAfterMs: number) {
    const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
    super(
      409,
      'verification_in_progress',
      `Another account is verifying this phone number. Try again in ${seconds} seconds.`,
      undefined,
      { 'retry-after': String(seconds) },
    );
  }
}

/** A wrong code while the verification stays open. */
export class InvalidCode extends HttpError {
  constructor(attemptsLeft: number) {
    const attempts = attemptsLeft === 1 ? '1 attempt' : `${attemptsLeft} attempts`;
    super(400, 'invalid_code', `The code is not correct. ${attempts} left.`, undefined, {}, { attempts_left: attemptsLeft });
  }
}

export interface PhoneVerificationServiceOptions {
  repository: PhoneVerificationRepository;
  accounts: AccountsService;
  sms: SmsVerifier;
  limits: RateLimitStore;
  logger: Logger;
  clock?: () => number;
}

export class PhoneVerificationService {
  private readonly logger: Logger;
  private readonly clock: () => number;
  /** One start or check at a time per user in this process; the database arbitrates between processes. */
  private readonly queues = new Map<number, Promise<void>>();

  constructor(private readonly options: PhoneVerificationServiceOptions) {
    this.logger = options.logger.child({ sms_provider: options.sms.name });
    this.clock = options.clock ?? Date.now;
  }

  /** Sends a code to the profile's phone number, or answers with the one sent moments ago. */
  start(userId: number, clientAddress: string): Promise<{ requestId: string }> {
    return this.oneAtATime(userId, () => this.startInTurn(userId, clientAddress));
  }

  /** Checks a code against the user's pending verification and marks the number verified. */
  check(userId: number, code: string): Promise<void> {
    return this.oneAtATime(userId, () => this.checkInTurn(userId, code));
  }

  private async startInTurn(userId: number, clientAddress: string): Promise<{ requestId: string }> {
    const user = await this.options.accounts.getUser(userId);
    const phoneNumber = user?.phoneNumber;
    if (!user || !phoneNumber) {
      throw new BadRequest('no_phone_number', 'Your profile has no phone number. Add one with PATCH /accounts/me/ first.');
    }
    if (user.phoneVerified) throw alreadyVerified();
    assertE164(phoneNumber);

    const now = this.clock();
    const current = await this.options.repository.find(userId);
    if (current && current.requestId === null && current.expiresAt > now) throw startInFlight();
    const live = current && this.isLive(current, now) ? current : undefined;
    if (live && live.phoneNumber === phoneNumber && now - live.startedAt < RESEND_INTERVAL_MS) {
      this.logger.info({ user_id: userId, request_id: live.requestId }, 'phone verification: the code just sent is reused');
      return { requestId: live.requestId };
    }
    // One account never holds a number for others longer than its code takes to become cancellable.
    const others = await this.options.repository.findOthersPending(phoneNumber, this.options.sms.name, userId, now);
    const wait = msUntilCancellable(others, now);
    if (wait > 0) throw new NumberBusy(wait);
    const budgets = startBudgets(userId, phoneNumber, clientAddress);
    await this.spend(budgets);

    const claim: PhoneVerification = {
      userId,
      attempt: randomUUID(),
      phoneNumber,
      provider: this.options.sms.name,
      requestId: null,
      startedAt: now,
      expiresAt: now + START_CLAIM_MS,
      wrongCodes: 0,
    };
    const claimed = current ? await this.options.repository.replace(current.attempt, claim) : await this.options.repository.insert(claim);
    if (!claimed) {
      await this.giveBack(budgets);
      throw startInFlight();
    }
    try {
      // No wait left means no start in flight among them: every one has a code to cancel.
      await this.takeOver(others as PendingVerification[], userId, now);
      // One verification per user: the previous code stops working before a new one is sent.
      if (live && !(await this.cancelQuietly(live.requestId)) && live.phoneNumber === phoneNumber) {
        // The code already sent still works; keeping it beats leaving the user with none.
        await this.options.repository.replace(claim.attempt, live);
        await this.giveBack(budgets);
        return { requestId: live.requestId };
      }
      const requestId = await this.send(userId, phoneNumber);
      const sentAt = this.clock();
      const sent = { ...claim, requestId, startedAt: sentAt, expiresAt: sentAt + CODE_LIFETIME_MS };
      if (!(await this.options.repository.replace(claim.attempt, sent))) {
        // Our claim lapsed and another start took over: that one's code is the one to keep.
        await this.cancelQuietly(requestId);
        throw startInFlight();
      }
      this.logger.info({ user_id: userId, request_id: requestId }, 'phone verification: code sent');
      return { requestId };
    } catch (error) {
      // Nothing half done stays behind: without a sent code there is no pending verification.
      await this.options.repository.delete(userId, claim.attempt);
      await this.giveBack(budgets);
      throw error;
    }
  }

  private async checkInTurn(userId: number, code: string): Promise<void> {
    const user = await this.options.accounts.getUser(userId);
    const current = await this.options.repository.find(userId);
    if (!user || !current || current.requestId === null) {
      if (user?.phoneVerified) throw alreadyVerified();
      throw new BadRequest('no_pending_verification', 'No code is waiting to be checked. Request one with POST /accounts/phone/verify/.');
    }
    if (!this.isLive(current, this.clock())) {
      await this.options.repository.delete(userId, current.attempt);
      throw expired();
    }
    if (current.phoneNumber !== user.phoneNumber) {
      await this.voidVerification(current, 'the phone number changed');
      throw numberChanged();
    }
    // A code of the wrong shape cannot match, so it costs none of the user's tries.
    if (!isWellFormedCode(code)) throw new BadRequest('invalid_code', `Enter the ${verificationCodeLength} digits of the code sent by SMS.`);

    const outcome = await this.options.sms.check(current.requestId, code);
    switch (outcome) {
      case 'verified':
        await this.options.repository.delete(userId, current.attempt);
        if (!(await this.options.accounts.markPhoneVerified(userId, current.phoneNumber))) throw numberChanged();
        this.logger.info({ user_id: userId, request_id: current.requestId }, 'phone verification: number verified');
        return;
      case 'invalid_code': {
        const wrongCodes = await this.options.repository.addWrongCode(userId, current.attempt);
        if (wrongCodes === undefined) throw new BadRequest('invalid_code', 'The code is not correct.');
        if (wrongCodes < MAX_WRONG_CODES) throw new InvalidCode(MAX_WRONG_CODES - wrongCodes);
        await this.voidVerification(current, 'too many wrong codes');
        throw await this.tooManyWrongCodes(userId, current.phoneNumber);
      }
      case 'too_many_attempts':
        await this.options.repository.delete(userId, current.attempt);
        this.logger.info({ user_id: userId, request_id: current.requestId }, 'phone verification: the provider ended it after wrong codes');
        throw await this.tooManyWrongCodes(userId, current.phoneNumber);
      case 'expired':
        await this.options.repository.delete(userId, current.attempt);
        throw expired();
    }
  }

  /**
   * Voids other accounts' codes of the number, here first and then at the provider, so that this
   * start's code is the number's only one. `others` are all old enough to be cancelled.
   */
  private async takeOver(others: PendingVerification[], userId: number, now: number): Promise<void> {
    for (const other of others) {
      // A new attempt id makes the other account's writes in flight miss, and a second taker's too.
      if (!(await this.options.repository.replace(other.attempt, { ...other, attempt: randomUUID(), expiresAt: now }))) {
        // Its account restarted or another start took over first: that code is brand new.
        throw new NumberBusy(CANCELLABLE_AFTER_MS);
      }
      this.logger.info(
        { user_id: userId, voided_user_id: other.userId, request_id: other.requestId },
        "phone verification: another account's code of this number is void",
      );
      await this.cancelQuietly(other.requestId);
    }
  }

  /** Starts at the provider; a verification pending there that nobody here waits for is replaced. */
  private async send(userId: number, phoneNumber: string): Promise<string> {
    try {
      return (await this.options.sms.start(phoneNumber)).requestId;
    } catch (error) {
      if (!(error instanceof VerificationInProgress) || !error.requestId) throw error;
      // Another account's start got to the provider first: the provider's choice stands.
      const now = this.clock();
      const others = await this.options.repository.findOthersPending(phoneNumber, this.options.sms.name, userId, now);
      if (others.length > 0) throw new NumberBusy(msUntilCancellable(others, now));
      // A start whose answer was lost, or a verification voided here that the provider still runs.
      this.logger.info({ user_id: userId, request_id: error.requestId }, 'phone verification: replacing a verification nobody waits for');
      await this.options.sms.cancel(error.requestId);
      return (await this.options.sms.start(phoneNumber)).requestId;
    }
  }

  /** Ends a verification here first, then at the provider, so a failing provider cannot keep it alive. */
  private async voidVerification(verification: PendingVerification, reason: string): Promise<void> {
    await this.options.repository.delete(verification.userId, verification.attempt);
    this.logger.info({ user_id: verification.userId, request_id: verification.requestId, reason }, 'phone verification: void');
    await this.cancelQuietly(verification.requestId);
  }

  /** The provider logs why a cancel failed; the caller decides what that means. */
  private async cancelQuietly(requestId: string): Promise<boolean> {
    try {
      await this.options.sms.cancel(requestId);
      return true;
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      this.logger.warn({ request_id: requestId, code: error.code }, 'phone verification: could not cancel at the provider');
      return false;
    }
  }

  private isLive(verification: PhoneVerification, now: number): verification is PendingVerification {
    return verification.requestId !== null && verification.provider === this.options.sms.name && verification.expiresAt > now;
  }

  /**
   * Counts a code on every budget before it is sent, so parallel starts from several accounts
   * cannot all pass; a start that sends nothing, refused ones included, gives its units back.
   */
  private async spend(budgets: Budget[]): Promise<void> {
    const wait = await spendBudgets(this.options.limits, budgets, START_WINDOW_MS);
    if (wait === 0) return;
    await this.giveBack(budgets);
    throw new RateLimited(wait / 1000, 'Too many verification codes were requested. Try again later.');
  }

  private async giveBack(budgets: Budget[]): Promise<void> {
    await giveBackBudgets(this.options.limits, budgets);
  }

  /** Milliseconds until a new code may be sent; 0 when one may be sent now. */
  private async startLimitWaitMs(userId: number, phoneNumber: string): Promise<number> {
    const [user, number] = await Promise.all([this.options.limits.peek(userKey(userId)), this.options.limits.peek(numberKey(phoneNumber))]);
    return Math.max(user.count >= STARTS_PER_USER ? user.resetInMs : 0, number.count >= STARTS_PER_NUMBER ? number.resetInMs : 0);
  }

  private async tooManyWrongCodes(userId: number, phoneNumber: string): Promise<RateLimited> {
    const wait = await this.startLimitWaitMs(userId, phoneNumber);
    return new RateLimited(wait / 1000, 'Too many wrong codes: this code no longer works. Request a new one.');
  }

  private oneAtATime<T>(userId: number, task: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(userId) ?? Promise.resolve();
    const result = previous.then(task);
    const done = result.then(
      () => undefined,
      () => undefined,
    );
    this.queues.set(userId, done);
    void done.then(() => {
      if (this.queues.get(userId) === done) this.queues.delete(userId);
    });
    return result;
  }
}

/** How long until every code in `others` can be cancelled; a start still in flight counts as a code sent now. */
function msUntilCancellable(others: PhoneVerification[], now: number): number {
  return Math.max(0, ...others.map((other) => (other.requestId === null ? CANCELLABLE_AFTER_MS : other.startedAt + CANCELLABLE_AFTER_MS - now)));
}

function startBudgets(userId: number, phoneNumber: string, clientAddress: string): Budget[] {
  return [
    { key: userKey(userId), limit: STARTS_PER_USER },
    { key: numberKey(phoneNumber), limit: STARTS_PER_NUMBER },
    { key: `phone-verify:ip:${clientAddress}`, limit: STARTS_PER_ADDRESS },
  ];
}

function userKey(userId: number): string {
  return `phone-verify:user:${userId}`;
}

function numberKey(phoneNumber: string): string {
  return `phone-verify:number:${phoneNumber}`;
}

function alreadyVerified(): Conflict {
  return new Conflict('phone_already_verified', 'Your phone number is already verified.');
}

function numberChanged(): Conflict {
  return new Conflict('phone_number_changed', 'Your phone number changed after the code was sent. Request a code for the new number.');
}

function expired(): BadRequest {
  return new BadRequest('verification_expired', 'The code has expired. Request a new one.');
}

function startInFlight(): Conflict {
  return new Conflict('verification_in_progress', 'A code is being sent to your phone number right now. Try again in a moment.');
}
