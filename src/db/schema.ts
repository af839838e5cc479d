// Table types for Kysely. Times are epoch milliseconds; flags are 0/1 integers so that
// SQLite and PostgreSQL read and write them the same way.
import type { Generated } from 'kysely';

export interface UsersTable {
  id: Generated<number>;
  username: string;
  /** username folded for case-insensitive uniqueness and lookup */
  username_key: string;
  email: string;
  email_key: string;
  password_hash: string;
  date_joined: number;
}

export interface ProfilesTable {
  user_id: number;
  phone_number: string | null;
  phone_verified: number;
}

export interface TokensTable {
  id: Generated<number>;
  user_id: number;
  token_hash: string;
  created_at: number;
  expires_at: number;
  last_used_at: number;
}

/** One verification per user; `request_id` is null while its start is in flight. */
export interface PhoneVerificationsTable {
  user_id: number;
  attempt: string;
  phone_number: string;
  provider: string;
  request_id: string | null;
  started_at: number;
  expires_at: number;
  wrong_codes: number;
}

export interface SchemaMigrationsTable {
  name: string;
  applied_at: number;
}

export interface Tables {
  users: UsersTable;
  profiles: ProfilesTable;
  tokens: TokensTable;
  phone_verifications: PhoneVerificationsTable;
  schema_migrations: SchemaMigrationsTable;
}
