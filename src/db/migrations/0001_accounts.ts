// Users, their profiles (one each, as the original's Profile) and auth tokens (hashes only).
import { autoId, autoIdType } from '../columns.js';
import type { AnyDatabase, Migration } from './migration.js';

export const accountsMigration: Migration = {
  name: '0001_accounts',
  async up(db: AnyDatabase, kind) {
    await db.schema
      .createTable('users')
      .addColumn('id', autoIdType(kind), autoId(kind))
      .addColumn('username', 'varchar(150)', (c) => c.notNull())
      .addColumn('username_key', 'varchar(150)', (c) => c.notNull().unique())
      .addColumn('email', 'varchar(254)', (c) => c.notNull())
      .addColumn('email_key', 'varchar(254)', (c) => c.notNull().unique())
      .addColumn('password_hash', 'text', (c) => c.notNull())
      .addColumn('date_joined', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('profiles')
      .addColumn('user_id', 'bigint', (c) => c.primaryKey().references('users.id').onDelete('cascade'))
      .addColumn('phone_number', 'varchar(16)')
      .addColumn('phone_verified', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema
      .createTable('tokens')
      .addColumn('id', autoIdType(kind), autoId(kind))
      .addColumn('user_id', 'bigint', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('token_hash', 'varchar(64)', (c) => c.notNull().unique())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('last_used_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('tokens_user_id').on('tokens').column('user_id').execute();
  },
};
