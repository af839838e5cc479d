// All SQL for users, profiles and tokens.
import type { Kysely } from 'kysely';
import type { Tables } from '../db/schema.js';

export interface UserRecord {
  id: number;
  username: string;
  email: string;
  passwordHash: string;
  dateJoined: number;
  phoneNumber: string | null;
  phoneVerified: boolean;
}

export interface NewUser {
  username: string;
  usernameKey: string;
  usernameSkeleton: string;
  email: string;
  emailKey: string;
  passwordHash: string;
  phoneNumber: string | null;
  dateJoined: number;
}

export class UniqueViolation extends Error {
  constructor(readonly column: 'username' | 'username_skeleton' | 'email') {
    super(`duplicate ${column}`);
  }
}

export class AccountsRepository {
  constructor(private readonly db: Kysely<Tables>) {}

  private selectUsers() {
    return this.db
      .selectFrom('users')
      .innerJoin('profiles', 'profiles.user_id', 'users.id')
      .select([
        'users.id as id',
        'users.username as username',
        'users.email as email',
        'users.password_hash as passwordHash',
        'users.date_joined as dateJoined',
        'profiles.phone_number as phoneNumber',
        'profiles.phone_verified as phoneVerified',
      ]);
  }

  private static toRecord(row: Omit<UserRecord, 'phoneVerified'> & { phoneVerified: number }): UserRecord {
    return { ...row, phoneVerified: row.phoneVerified === 1 };
  }

  /** Inserts the user and its profile in one transaction (the original's post-save signal). */
  async createUser(user: NewUser): Promise<UserRecord> {
    try {
      const id = await this.db.transaction().execute(async (trx) => {
        const inserted = await trx
          .insertInto('users')
          .values({
            username: user.username,
            username_key: user.usernameKey,
            username_skeleton: user.usernameSkeleton,
            email: user.email,
            email_key: user.emailKey,
            password_hash: user.passwordHash,
            date_joined: user.dateJoined,
          })
          .returning('id')
          .executeTakeFirstOrThrow();
        await trx.insertInto('profiles').values({ user_id: inserted.id, phone_number: user.phoneNumber, phone_verified: 0 }).execute();
        return inserted.id;
      });
      return (await this.findById(id))!;
    } catch (error) {
      throw asUniqueViolation(error) ?? error;
    }
  }

  async findById(id: number): Promise<UserRecord | undefined> {
    const row = await this.selectUsers().where('users.id', '=', id).executeTakeFirst();
    return row && AccountsRepository.toRecord(row);
  }

  async findByUsernameKey(usernameKey: string): Promise<UserRecord | undefined> {
    const row = await this.selectUsers().where('users.username_key', '=', usernameKey).executeTakeFirst();
    return row && AccountsRepository.toRecord(row);
  }

  /** Whether a username with this confusable skeleton exists. */
  async hasUsernameSkeleton(skeleton: string): Promise<boolean> {
    const row = await this.db.selectFrom('users').select('id').where('username_skeleton', '=', skeleton).executeTakeFirst();
    return row !== undefined;
  }

  async findByLogin(key: string): Promise<UserRecord | undefined> {
    const row = await this.selectUsers()
      .where((eb) => eb.or([eb('users.username_key', '=', key), eb('users.email_key', '=', key)]))
      .orderBy('users.id')
      .executeTakeFirst();
    return row && AccountsRepository.toRecord(row);
  }

  async updateEmail(userId: number, email: string, emailKey: string): Promise<void> {
    try {
      await this.db.updateTable('users').set({ email, email_key: emailKey }).where('id', '=', userId).execute();
    } catch (error) {
      throw asUniqueViolation(error) ?? error;
    }
  }

  async updatePhoneNumber(userId: number, phoneNumber: string | null): Promise<void> {
    await this.db.updateTable('profiles').set({ phone_number: phoneNumber, phone_verified: 0 }).where('user_id', '=', userId).execute();
  }

  /** Marks the number verified only if it is still the profile's number. */
  async markPhoneVerified(userId: number, phoneNumber: string): Promise<boolean> {
    const result = await this.db
      .updateTable('profiles')
      .set({ phone_verified: 1 })
      .where('user_id', '=', userId)
      .where('phone_number', '=', phoneNumber)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** Changes the password and revokes every token but the one in use, in one transaction. */
  async updatePassword(userId: number, passwordHash: string, keepTokenId: number): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('users').set({ password_hash: passwordHash }).where('id', '=', userId).execute();
      await trx.deleteFrom('tokens').where('user_id', '=', userId).where('id', '!=', keepTokenId).execute();
    });
  }

  async insertToken(userId: number, tokenHash: string, now: number, expiresAt: number): Promise<number> {
    const row = await this.db
      .insertInto('tokens')
      .values({ user_id: userId, token_hash: tokenHash, created_at: now, expires_at: expiresAt, last_used_at: now })
      .returning('id')
      .executeTakeFirstOrThrow();
    return row.id;
  }

  /** The token and its user in one query: this runs on every authenticated request. */
  async findTokenWithUser(tokenHash: string) {
    const row = await this.selectUsers()
      .innerJoin('tokens', 'tokens.user_id', 'users.id')
      .select(['tokens.id as tokenId', 'tokens.expires_at as expiresAt', 'tokens.last_used_at as lastUsedAt'])
      .where('tokens.token_hash', '=', tokenHash)
      .executeTakeFirst();
    if (!row) return undefined;
    const { tokenId, expiresAt, lastUsedAt, ...user } = row;
    return { tokenId, expiresAt, lastUsedAt, user: AccountsRepository.toRecord(user) };
  }

  async touchToken(tokenId: number, now: number, expiresAt: number): Promise<void> {
    await this.db.updateTable('tokens').set({ last_used_at: now, expires_at: expiresAt }).where('id', '=', tokenId).execute();
  }

  async tokenExpiry(tokenId: number): Promise<number | undefined> {
    const row = await this.db.selectFrom('tokens').select('expires_at').where('id', '=', tokenId).executeTakeFirst();
    return row?.expires_at;
  }

  async deleteToken(tokenId: number): Promise<void> {
    await this.db.deleteFrom('tokens').where('id', '=', tokenId).execute();
  }

  /** Returns how many were deleted. */
  async deleteExpiredTokens(now: number): Promise<number> {
    const result = await this.db.deleteFrom('tokens').where('expires_at', '<=', now).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

/** Recognises a unique-constraint failure from either database and names the column. */
function asUniqueViolation(error: unknown): UniqueViolation | undefined {
  const { code, message = '', constraint = '' } = error as { code?: string; message?: string; constraint?: string };
  const isUnique = code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE';
  if (!isUnique) return undefined;
  const names = `${constraint} ${message}`;
  return new UniqueViolation(/email/.test(names) ? 'email' : /skeleton/.test(names) ? 'username_skeleton' : 'username');
}
