// Groups across backends: a group message keeps its place in the home's order (`position`: the
// home's id for it; null on a member's backend until the home has ordered it), and the outbox
// carries group items besides messages: a group's state and a member's request have no message
// (`message_id` null), and an entry's own fields travel in `payload` (JSON). SQLite changes no
// column's nullability in place, so its outbox is rebuilt (nothing refers to it), keeping every
// entry, its id and the id counter. A member's request to a group's home changes no message, so
// its answer is kept in a table of its own (`federation_item_answers`): a repeat gets it, as a
// repeated message gets its receipt's.
import { sql } from 'kysely';
import type { DatabaseKind } from '../database.js';
import { autoId, autoIdType } from '../columns.js';
import type { AnyDatabase, Migration } from './migration.js';

export const federatedGroupsMigration: Migration = {
  name: '0011_federated_groups',
  async up(db: AnyDatabase, kind: DatabaseKind) {
    await db.schema.alterTable('messages').addColumn('position', 'bigint').execute();
    await db.schema.createIndex('messages_position').on('messages').columns(['conversation_id', 'position']).execute();
    // Every group so far is this backend's own: its order is the order of the ids.
    await sql`update messages set position = id where conversation_id in (select id from conversations where kind = 'group')`.execute(db);
    if (kind === 'sqlite') await rebuildOutboxSqlite(db);
    else await sql`alter table outbox alter column message_id drop not null, alter column op type varchar(16), add column payload text`.execute(db);
    await db.schema
      .createTable('federation_item_answers')
      .addColumn('peer', 'varchar(253)', (c) => c.notNull())
      .addColumn('item_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('status', 'integer', (c) => c.notNull())
      .addColumn('code', 'varchar(64)')
      .addColumn('version', 'bigint')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('federation_item_answers_pk', ['peer', 'item_id'])
      .execute();
    await db.schema.createIndex('federation_item_answers_created_at').on('federation_item_answers').column('created_at').execute();
  },
};

async function rebuildOutboxSqlite(db: AnyDatabase): Promise<void> {
  const counter = await sql<{ seq: number }>`select seq from sqlite_sequence where name = 'outbox'`.execute(db);
  await db.schema
    .createTable('outbox_new')
    .addColumn('id', autoIdType('sqlite'), autoId('sqlite'))
    .addColumn('message_id', 'bigint', (c) => c.references('messages.id').onDelete('cascade'))
    .addColumn('server', 'varchar(253)', (c) => c.notNull())
    .addColumn('receiver_key', 'varchar(450)', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
    .addColumn('claimed_until', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('claimed_by', 'varchar(64)')
    .addColumn('last_error', 'varchar(200)')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('op', 'varchar(16)')
    .addColumn('op_id', 'varchar(36)')
    .addColumn('conversation_id', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('payload', 'text')
    .execute();
  await sql`insert into outbox_new (id, message_id, server, receiver_key, attempts, next_attempt_at, claimed_until, claimed_by, last_error, created_at, op, op_id, conversation_id)
    select id, message_id, server, receiver_key, attempts, next_attempt_at, claimed_until, claimed_by, last_error, created_at, op, op_id, conversation_id from outbox order by id`.execute(db);
  await sql`drop table outbox`.execute(db);
  await sql`alter table outbox_new rename to outbox`.execute(db);
  await db.schema.createIndex('outbox_receiver').on('outbox').columns(['receiver_key', 'id']).execute();
  await db.schema.createIndex('outbox_due').on('outbox').columns(['next_attempt_at']).execute();
  const seq = Number(counter.rows[0]?.seq ?? 0);
  await sql`delete from sqlite_sequence where name = 'outbox'`.execute(db);
  await sql`insert into sqlite_sequence (name, seq) values ('outbox', max(${seq}, coalesce((select max(id) from outbox), 0)))`.execute(db);
}
