// Account rules: registration, login, tokens, profile changes.
import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { Conflict, RateLimited, Unauthorized, ValidationFailed } from '../http/errors.js';
import type { TokenRevocation } from '../http/token-revocation.js';
import { giveBackBudgets, spendBudgets, type Budget, type RateLimitStore } from '../limits/rate-limiter.js';
import { PeriodicJob } from '../jobs/periodic-job.js';
import { foldKey } from '../unicode/fold.js';
import { confusableSkeleton } from '../unicode/lookalikes.js';
import { hashPassword, makeDecoyHash, validatePassword, verifyPassword } from './passwords.js';
import { AccountsRepository, UniqueViolation, type UserRecord } from './repository.js';
import { FieldCollector, checkEmail, checkUsername, normalizePhoneNumber } from './validation.js';

export interface PublicUser {
  id: number;
  username: string;
  email: string;
  phone_number: string | null;
  phone_verified: boolean;
  date_joined: string;
}

export interface AuthenticatedUser {
  user: UserRecord;
  tokenId: number;
  /** When the token expires (epoch ms), as slid by this use. */
  expiresAt: number;
}

export interface AbuseLimits {
  windowMs: number;
  /** Wrong passwords per account (at login or as current_password alike), or per unknown login name. */
  loginFailuresPerUsername: number;
  loginFailuresPerAddress: number;
  registrationsPerAddress: number;
  registrationsPerUsername: number;
}

export const DEFAULT_ABUSE_LIMITS: AbuseLimits = {
  windowMs: 15 * 60_000,
  loginFailuresPerUsername: 10,
  loginFailuresPerAddress: 100,
  registrationsPerAddress: 200,
  registrationsPerUsername: 10,
};

export interface RegisterInput {
  username: string;
  email: string;
  password: string;
  phone_number?: string | null;
}

export interface ProfileChanges {
  email?: string;
  phone_number?: string | null;
  password?: string;
  current_password?: string;
}

const TOKEN_PRUNE_INTERVAL_MS = 60 * 60_000;

// Tokens are refreshed at most this often (or, with a TOKEN_TTL under two minutes, every half
// of it, so that they still slide), so an authenticated request rarely writes.
const TOKEN_TOUCH_INTERVAL_MS = 60_000;

export function toPublicUser(user: UserRecord): PublicUser {
  return {
    id: user.id,
    username: user.username,
    email: user.email,
    phone_number: user.phoneNumber,
    phone_verified: user.phoneVerified,
    date_joined: new Date(user.dateJoined).toISOString(),
  };
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export interface AccountsServiceOptions {
  repository: AccountsRepository;
  limits: RateLimitStore;
  abuseLimits?: AbuseLimits;
  tokenTtlMs: number;
  logger: Logger;
  /** How often expired tokens are deleted; hourly by default. */
  tokenPruneIntervalMs?: number;
  clock?: () => number;
  /** Told which tokens stopped being valid, so live connections opened with them can close. */
  onTokensRevoked?: (userId: number, revocation: TokenRevocation) => void;
}

export class AccountsService {
  private readonly abuse: AbuseLimits;
  private readonly clock: () => number;
  private readonly decoyHash: Promise<string>;
  private readonly tokenPruning: PeriodicJob;
  private readonly onTokensRevoked: (userId: number, revocation: TokenRevocation) => void;

  constructor(private readonly options: AccountsServiceOptions) {
    this.abuse = options.abuseLimits ?? DEFAULT_ABUSE_LIMITS;
    this.clock = options.clock ?? Date.now;
    this.onTokensRevoked = options.onTokensRevoked ?? (() => undefined);
    this.decoyHash = makeDecoyHash();
    this.tokenPruning = new PeriodicJob({
      name: 'expired tokens deletion',
      run: () => options.repository.deleteExpiredTokens(this.clock()),
      intervalMs: options.tokenPruneIntervalMs ?? TOKEN_PRUNE_INTERVAL_MS,
      logger: options.logger,
    });
  }

  async register(input: RegisterInput, clientAddress: string): Promise<{ token: string; user: UserRecord }> {
    const usernameKey = foldKey(input.username);
    await this.spend(
      { key: `register:ip:${clientAddress}`, limit: this.abuse.registrationsPerAddress },
      { key: `register:user:${usernameKey}`, limit: this.abuse.registrationsPerUsername },
    );

    const fields = new FieldCollector();
    checkUsername(input.username, fields);
    checkEmail(input.email, fields);
    const phoneNumber = input.phone_number ? normalizePhoneNumber(input.phone_number, fields) : null;
    for (const problem of validatePassword(input.password, { username: input.username, email: input.email })) {
      fields.add('password', problem);
    }
    if (!fields.empty) throw new ValidationFailed(fields.errors);

    const emailKey = foldKey(input.email);
    const usernameSkeleton = confusableSkeleton(input.username);
    if (await this.options.repository.findByUsernameKey(usernameKey)) throw usernameTaken();
    if (await this.options.repository.hasUsernameSkeleton(usernameSkeleton)) throw usernameLookalike();
    const user = await this.options.repository
      .createUser({
        username: input.username,
        usernameKey,
        usernameSkeleton,
        email: input.email,
        emailKey,
        passwordHash: await hashPassword(input.password),
        phoneNumber,
        dateJoined: this.clock(),
      })
      .catch((error: unknown) => {
        if (error instanceof UniqueViolation) throw { email: emailTaken, username: usernameTaken, username_skeleton: usernameLookalike }[error.column]();
        throw error;
      });
    return { token: await this.issueToken(user.id), user };
  }

  async login(login: string, password: string, clientAddress: string): Promise<{ token: string; user: UserRecord }> {
    const key = foldKey(login);
    const user = await this.options.repository.findByLogin(key);
    // One budget per account whichever of its names was typed; an unknown name has its own.
    const budgets = [
      user ? this.accountBudget(user.id) : { key: `login:name:${key}`, limit: this.abuse.loginFailuresPerUsername },
      { key: `login:ip:${clientAddress}`, limit: this.abuse.loginFailuresPerAddress },
    ];
    await this.spend(...budgets);
    // An unknown user costs one hash check too, so timing does not tell which names exist.
    const valid = await verifyPassword(user?.passwordHash ?? (await this.decoyHash), password);
    if (!user || !valid) throw new Unauthorized('invalid_credentials', 'Unable to log in with provided credentials.');
    await this.giveBack(...budgets);
    return { token: await this.issueToken(user.id), user };
  }

  async logout(tokenId: number, userId: number): Promise<void> {
    await this.options.repository.deleteToken(tokenId);
    this.onTokensRevoked(userId, { tokenId });
  }

  /** Resolves a raw token to its user, sliding its expiry; undefined when unknown or expired. */
  async authenticate(rawToken: string): Promise<AuthenticatedUser | undefined> {
    const found = await this.options.repository.findTokenWithUser(hashToken(rawToken));
    const now = this.clock();
    if (!found) return undefined;
    if (found.expiresAt <= now) {
      await this.options.repository.deleteToken(found.tokenId);
      return undefined;
    }
    let { expiresAt } = found;
    if (now - found.lastUsedAt >= Math.min(TOKEN_TOUCH_INTERVAL_MS, this.options.tokenTtlMs / 2)) {
      expiresAt = now + this.options.tokenTtlMs;
      await this.options.repository.touchToken(found.tokenId, now, expiresAt);
    }
    return { user: found.user, tokenId: found.tokenId, expiresAt };
  }

  /** When the token expires as stored now (HTTP use slides it); undefined once it is gone. */
  async tokenExpiry(tokenId: number): Promise<number | undefined> {
    return this.options.repository.tokenExpiry(tokenId);
  }

  async getUser(userId: number): Promise<UserRecord | undefined> {
    return this.options.repository.findById(userId);
  }

  async updateProfile(current: AuthenticatedUser, changes: ProfileChanges): Promise<UserRecord> {
    const { user } = current;
    const fields = new FieldCollector();
    if (changes.email !== undefined) checkEmail(changes.email, fields);
    const phoneNumber =
      changes.phone_number === undefined || changes.phone_number === null ? changes.phone_number : normalizePhoneNumber(changes.phone_number, fields);
    if (changes.password !== undefined && (await this.checkCurrentPassword(user, changes.current_password, fields))) {
      for (const problem of validatePassword(changes.password, { username: user.username, email: changes.email ?? user.email })) {
        fields.add('password', problem);
      }
    }
    if (!fields.empty) throw new ValidationFailed(fields.errors);

    if (changes.email !== undefined && changes.email !== user.email) {
      await this.options.repository.updateEmail(user.id, changes.email, foldKey(changes.email)).catch((error: unknown) => {
        throw error instanceof UniqueViolation ? emailTaken() : error;
      });
    }
    if (phoneNumber !== undefined && phoneNumber !== user.phoneNumber) {
      await this.options.repository.updatePhoneNumber(user.id, phoneNumber);
    }
    if (changes.password !== undefined) {
      await this.options.repository.updatePassword(user.id, await hashPassword(changes.password), current.tokenId);
      this.onTokensRevoked(user.id, { allExcept: current.tokenId });
    }
    return (await this.options.repository.findById(user.id))!;
  }

  async markPhoneVerified(userId: number, phoneNumber: string): Promise<boolean> {
    return this.options.repository.markPhoneVerified(userId, phoneNumber);
  }

  async findUserByUsername(username: string): Promise<UserRecord | undefined> {
    return this.options.repository.findByUsernameKey(foldKey(username));
  }

  /** Deletes expired tokens now and then: every login stores one, and expiring removes none. */
  startTokenPruning(): void {
    this.tokenPruning.start();
  }

  stopTokenPruning(): Promise<void> {
    return this.tokenPruning.stop();
  }

  private async issueToken(userId: number): Promise<string> {
    const token = randomBytes(32).toString('base64url');
    const now = this.clock();
    await this.options.repository.insertToken(userId, hashToken(token), now, now + this.options.tokenTtlMs);
    return token;
  }

  /** Password guesses against one account, by login or by a password change, share this budget. */
  private accountBudget(userId: number): Budget {
    return { key: `login:account:${userId}`, limit: this.abuse.loginFailuresPerUsername };
  }

  /**
   * The current password, asked before any other password rule. Each guess is counted on the
   * account's login budget before it is checked, so a stolen token cannot guess without limit.
   */
  private async checkCurrentPassword(user: UserRecord, currentPassword: string | undefined, fields: FieldCollector): Promise<boolean> {
    if (!currentPassword) {
      fields.add('current_password', 'This field is required to change the password.');
      return false;
    }
    await this.spend(this.accountBudget(user.id));
    if (!(await verifyPassword(user.passwordHash, currentPassword))) {
      fields.add('current_password', 'The current password is not correct.');
      return false;
    }
    await this.giveBack(this.accountBudget(user.id));
    return true;
  }

  /** Counts the attempt before it runs; 429 when any budget is spent. */
  private async spend(...budgets: Budget[]): Promise<void> {
    const wait = await spendBudgets(this.options.limits, budgets, this.abuse.windowMs);
    if (wait > 0) throw new RateLimited(wait / 1000);
  }

  /** A right password gives its units back: only wrong guesses use up a budget. */
  private async giveBack(...budgets: Budget[]): Promise<void> {
    await giveBackBudgets(this.options.limits, budgets);
  }
}

function usernameTaken(): Conflict {
  return new Conflict('username_taken', 'A user with that username already exists.', {
    username: ['A user with that username already exists.'],
  });
}

function usernameLookalike(): Conflict {
  return new Conflict('username_taken', 'A user with a username that looks the same already exists.', {
    username: ['A user with a username that looks the same already exists.'],
  });
}

function emailTaken(): Conflict {
  return new Conflict('email_taken', 'A user with that email already exists.', {
    email: ['A user with that email already exists.'],
  });
}
