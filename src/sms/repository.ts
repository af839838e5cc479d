// All SQL for phone verifications. Every write names the row's `attempt`, so two instances
// working on one user's verification cannot overwrite each other's state.
import type { Kysely } from 'kysely';
import type { Tables } from '../db/schema.js';

export interface PhoneVerification {
  userId: number;
  /** A fresh random id per start; writers compare it before they change the row. */
  attempt: string;
  phoneNumber: string;
  /** The SmsVerifier that issued `requestId`; another one cannot check it. */
  provider: string;
  /** The provider's request id; null while the start is still in flight. */
  requestId: string | null;
  startedAt: number;
  /** When the code stops working, or, while starting, when the claim may be taken over. */
  expiresAt: number;
  wrongCodes: number;
}

export class PhoneVerificationRepository {
  constructor(private readonly db: Kysely<Tables>) {}

  private selectVerifications() {
    return this.db
      .selectFrom('phone_verifications')
      .select([
        'user_id as userId',
        'attempt',
        'phone_number as phoneNumber',
        'provider',
        'request_id as requestId',
        'started_at as startedAt',
        'expires_at as expiresAt',
        'wrong_codes as wrongCodes',
      ]);
  }

  async find(userId: number): Promise<PhoneVerification | undefined> {
    return this.selectVerifications().where('user_id', '=', userId).executeTakeFirst();
  }

  /** Other accounts' codes of `phoneNumber` from `provider` that still work at `now`, and their starts in flight. */
  async findOthersPending(phoneNumber: string, provider: string, exceptUserId: number, now: number): Promise<PhoneVerification[]> {
    return this.selectVerifications()
      .where('phone_number', '=', phoneNumber)
      .where('provider', '=', provider)
      .where('user_id', '<>', exceptUserId)
      .where('expires_at', '>', now)
      .execute();
  }

  /** Writes the user's first row; false when another writer created one first. */
  async insert(row: PhoneVerification): Promise<boolean> {
    const result = await this.db
      .insertInto('phone_verifications')
      .values(toColumns(row))
      .onConflict((conflict) => conflict.column('user_id').doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) > 0;
  }

  /** Replaces the row if it is still at `expectedAttempt`; false when someone changed it meanwhile. */
  async replace(expectedAttempt: string, row: PhoneVerification): Promise<boolean> {
    const result = await this.db
      .updateTable('phone_verifications')
      .set(toColumns(row))
      .where('user_id', '=', row.userId)
      .where('attempt', '=', expectedAttempt)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async delete(userId: number, attempt: string): Promise<void> {
    await this.db.deleteFrom('phone_verifications').where('user_id', '=', userId).where('attempt', '=', attempt).execute();
  }

  /** Counts one more wrong code and returns the new total; undefined when the row moved on. */
  async addWrongCode(userId: number, attempt: string): Promise<number | undefined> {
    const row = await this.db
      .updateTable('phone_verifications')
      .set((eb) => ({ wrong_codes: eb('wrong_codes', '+', 1) }))
      .where('user_id', '=', userId)
      .where('attempt', '=', attempt)
      .returning('wrong_codes')
      .executeTakeFirst();
    return row?.wrong_codes;
  }
}

function toColumns(row: PhoneVerification) {
  return {
    user_id: row.userId,
    attempt: row.attempt,
    phone_number: row.phoneNumber,
    provider: row.provider,
    request_id: row.requestId,
    started_at: row.startedAt,
    expires_at: row.expiresAt,
    wrong_codes: row.wrongCodes,
  };
}
