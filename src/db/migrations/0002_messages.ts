// Messages (sealed at rest), per-user conversation summaries, the federation outbox and the
// receipts that make inbound federation exactly-once.
import { sql } from 'kysely';
import { autoId, autoIdType } from '../columns.js';
import type { AnyDatabase, Migration } from './migration.js';

export const messagesMigration: Migration = {
  name: '0002_messages',
  async up(db: AnyDatabase, kind) {
    await db.schema
      .createTable('messages')
      .addColumn('id', autoIdType(kind), autoId(kind))
      .addColumn('uuid', 'varchar(36)', (c) => c.notNull())
      .addColumn('pair', 'varchar(600)', (c) => c.notNull())
      .addColumn('sender_user_id', 'bigint', (c) => c.references('users.id').onDelete('cascade'))
      .addColumn('receiver_user_id', 'bigint', (c) => c.references('users.id').onDelete('cascade'))
      .addColumn('sender', 'varchar(420)', (c) => c.notNull())
      .addColumn('receiver', 'varchar(420)', (c) => c.notNull())
      .addColumn('peer', 'varchar(253)')
      .addColumn('body', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('status', 'varchar(16)', (c) => c.notNull())
      .addColumn('failure_code', 'varchar(64)')
      .addColumn('client_id', 'varchar(100)')
      .addColumn('read_at', 'bigint')
      .addColumn('edited_at', 'bigint')
      .addColumn('deleted', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema.createIndex('messages_pair_id').on('messages').columns(['pair', 'id']).execute();
    await db.schema.createIndex('messages_sender_id').on('messages').columns(['sender_user_id', 'id']).execute();
    await db.schema.createIndex('messages_receiver_id').on('messages').columns(['receiver_user_id', 'id']).execute();
    await db.schema.createIndex('messages_uuid').on('messages').column('uuid').execute();
    // Partial: most sends carry no client id, and an index entry per message costs every insert.
    await db.schema
      .createIndex('messages_client_id')
      .on('messages')
      .columns(['sender_user_id', 'client_id'])
      .unique()
      .where(sql.ref('client_id'), 'is not', null)
      .execute();

    await db.schema
      .createTable('conversations')
      .addColumn('user_id', 'bigint', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('partner_key', 'varchar(450)', (c) => c.notNull())
      .addColumn('partner', 'varchar(420)', (c) => c.notNull())
      .addColumn('last_message_id', 'bigint', (c) => c.notNull())
      .addColumn('unread', 'integer', (c) => c.notNull().defaultTo(0))
      .addPrimaryKeyConstraint('conversations_pk', ['user_id', 'partner_key'])
      .execute();
    await db.schema.createIndex('conversations_recent').on('conversations').columns(['user_id', 'last_message_id']).execute();

    await db.schema
      .createTable('outbox')
      .addColumn('id', autoIdType(kind), autoId(kind))
      .addColumn('message_id', 'bigint', (c) => c.notNull().references('messages.id').onDelete('cascade'))
      .addColumn('peer', 'varchar(253)', (c) => c.notNull())
      .addColumn('receiver_key', 'varchar(450)', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
      .addColumn('claimed_until', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('claimed_by', 'varchar(64)')
      .addColumn('last_error', 'varchar(200)')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('outbox_receiver').on('outbox').columns(['receiver_key', 'id']).execute();
    await db.schema.createIndex('outbox_due').on('outbox').columns(['next_attempt_at']).execute();

    await db.schema
      .createTable('federation_receipts')
      .addColumn('peer', 'varchar(253)', (c) => c.notNull())
      .addColumn('request_key', 'varchar(255)', (c) => c.notNull())
      .addColumn('message_id', 'bigint', (c) => c.notNull().references('messages.id').onDelete('cascade'))
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('federation_receipts_pk', ['peer', 'request_key'])
      .execute();
  },
};
