// The verification in progress for each user's phone number: at most one per user, tied to the
// number it was sent to and to the provider that sent it.
import type { AnyDatabase, Migration } from './migration.js';

export const phoneVerificationsMigration: Migration = {
  name: '0003_phone_verifications',
  async up(db: AnyDatabase) {
    await db.schema
      .createTable('phone_verifications')
      .addColumn('user_id', 'bigint', (c) => c.primaryKey().references('users.id').onDelete('cascade'))
      // Changes with every start, so concurrent writers can compare-and-swap the row.
      .addColumn('attempt', 'varchar(36)', (c) => c.notNull())
      .addColumn('phone_number', 'varchar(16)', (c) => c.notNull())
      .addColumn('provider', 'varchar(16)', (c) => c.notNull())
      // Null while the start is in flight: the row then only claims the right to start.
      .addColumn('request_id', 'varchar(64)')
      .addColumn('started_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('wrong_codes', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema.createIndex('phone_verifications_request_id').on('phone_verifications').column('request_id').execute();
  },
};
