// The conversation becomes the central record: `conversations` and their members (read position,
// unread count, last message) replace the per-user summaries, a message names its conversation
// and its sender's member key instead of a participant pair, a read marker per forward move of a
// read position replaces `read_at`, and `message_deliveries` replaces `status`. Each step is one
// set-based statement, so the migration stays fast on a large database.
import { sql, type RawBuilder } from 'kysely';
import type { DatabaseKind } from '../database.js';
import { autoId, autoIdType } from '../columns.js';
import type { AnyDatabase, Migration } from './migration.js';

// The old summaries, renamed away until the members are built from them.
const SUMMARIES = 'direct_summaries_2x';

export const conversationsMigration: Migration = {
  name: '0009_conversations',
  async up(db: AnyDatabase, kind) {
    await sql`alter table conversations rename to ${sql.table(SUMMARIES)}`.execute(db);
    await db.schema
      .createTable('conversations')
      .addColumn('id', autoIdType(kind), autoId(kind))
      .addColumn('uuid', 'varchar(64)', (c) => c.notNull().unique())
      .addColumn('kind', 'varchar(8)', (c) => c.notNull())
      .addColumn('direct_key', 'varchar(600)', (c) => c.unique())
      .addColumn('home', 'varchar(253)')
      .addColumn('title', 'varchar(200)')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    // One direct conversation per pair, created when its first message was, under a fresh UUIDv7.
    await sql`insert into conversations (uuid, kind, direct_key, created_at)
      select ${uuidV7(kind, sql`min(created_at)`)}, 'direct', pair, min(created_at) from messages group by pair`.execute(db);

    if (kind === 'sqlite') await rebuildMessagesSqlite(db);
    else await alterMessagesPostgres(db);
    await db.schema.createIndex('messages_conversation_id').on('messages').columns(['conversation_id', 'id']).execute();

    await db.schema
      .createTable('conversation_members')
      .addColumn('conversation_id', 'bigint', (c) => c.notNull().references('conversations.id').onDelete('cascade'))
      .addColumn('member_key', 'varchar(450)', (c) => c.notNull())
      .addColumn('user_id', 'bigint', (c) => c.references('users.id').onDelete('cascade'))
      .addColumn('server', 'varchar(253)')
      .addColumn('name', 'varchar(420)', (c) => c.notNull())
      .addColumn('address', 'varchar(420)', (c) => c.notNull())
      .addColumn('role', 'varchar(8)', (c) => c.notNull())
      .addColumn('joined_at', 'bigint', (c) => c.notNull())
      .addColumn('read_up_to', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('unread', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('last_message_id', 'bigint')
      .addColumn('has_sent', 'integer', (c) => c.notNull().defaultTo(0))
      .addPrimaryKeyConstraint('conversation_members_pk', ['conversation_id', 'member_key'])
      .execute();
    // Each local user's summary names the user and their partner; the summary's last message
    // gives the conversation. A summary of a conversation with oneself names one member.
    const conversationOf = sql`(select m.conversation_id from messages m where m.id = s.last_message_id)`;
    await sql`insert into conversation_members (conversation_id, member_key, user_id, server, name, address, role, joined_at, unread, last_message_id)
      select ${conversationOf}, 'u:' || s.user_id, s.user_id, null, u.username, u.username, 'member', 0, s.unread, s.last_message_id
      from ${sql.table(SUMMARIES)} s join users u on u.id = s.user_id`.execute(db);
    await sql`insert into conversation_members (conversation_id, member_key, user_id, server, name, address, role, joined_at)
      select ${conversationOf}, s.partner_key, null, p.peer, substr(s.partner, 1, length(s.partner) - length(p.peer) - 1), s.partner, 'member', 0
      from ${sql.table(SUMMARIES)} s join messages_peers_2x p on p.id = s.last_message_id
      where s.partner_key like 'r:%'`.execute(db);
    await sql`drop table messages_peers_2x`.execute(db);
    await sql`update conversation_members set joined_at = (select c.created_at from conversations c where c.id = conversation_members.conversation_id)`.execute(db);
    await sql`update conversation_members set has_sent = 1 where exists (select 1 from messages m
      where m.conversation_id = conversation_members.conversation_id and m.sender_key = conversation_members.member_key)`.execute(db);
    await sql`update conversation_members set read_up_to = coalesce((select max(r.up_to) from read_markers r
      where r.conversation_id = conversation_members.conversation_id and r.member_key = conversation_members.member_key), 0)`.execute(db);
    await db.schema.createIndex('conversation_members_recent').on('conversation_members').columns(['user_id', 'last_message_id']).execute();
    await db.schema.createIndex('conversation_members_server').on('conversation_members').columns(['server']).execute();
    await sql`drop table ${sql.table(SUMMARIES)}`.execute(db);

    // The outbox names its conversation and its peer as members do (SQLite rebuilt it above); the
    // order stays per receiver.
    if (kind === 'postgres') {
      await sql`alter table outbox rename column peer to server`.execute(db);
      await sql`alter table outbox add column conversation_id bigint not null default 0`.execute(db);
      await sql`update outbox o set conversation_id = m.conversation_id from messages m where m.id = o.message_id`.execute(db);
    }
  },
};

/** A UUIDv7 (as db/uuid.ts makes them) of the millisecond time `at`. */
function uuidV7(kind: DatabaseKind, at: RawBuilder<unknown>): RawBuilder<string> {
  if (kind === 'postgres') {
    const time = sql`lpad(to_hex(${at}), 12, '0')`;
    return sql`substr(${time}, 1, 8) || '-' || substr(${time}, 9, 4) || '-7' || substr(gen_random_uuid()::text, 16)`;
  }
  const time = sql`printf('%012x', ${at})`;
  const hex = (bytes: number) => sql`lower(hex(randomblob(${sql.lit(bytes)})))`;
  return sql`substr(${time}, 1, 8) || '-' || substr(${time}, 9, 4) || '-7' || substr(${hex(2)}, 2, 3) || '-'
    || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(${hex(2)}, 2, 3) || '-' || ${hex(6)}`;
}

/**
 * The sender's member key of an old row: a local sender by id; a remote sender is the other key
 * of the pair, which sorts before the local receiver's (`r:` < `u:`).
 */
const senderKeyOf = (row: string) =>
  sql`case when ${sql.ref(`${row}.sender_user_id`)} is not null then 'u:' || ${sql.ref(`${row}.sender_user_id`)}
    else substr(${sql.ref(`${row}.pair`)}, 1, length(${sql.ref(`${row}.pair`)}) - length('|u:' || ${sql.ref(`${row}.receiver_user_id`)})) end`;

/**
 * What moves out of the old message columns, read before they go: read markers (one per
 * distinct read time of a receiver, up to the last message read then), and each message's peer
 * for the remote members.
 */
async function moveOutOfMessages(db: AnyDatabase, messages: string): Promise<void> {
  const old = sql.table(messages);
  await db.schema
    .createTable('read_markers')
    .addColumn('conversation_id', 'bigint', (c) => c.notNull().references('conversations.id').onDelete('cascade'))
    .addColumn('member_key', 'varchar(450)', (c) => c.notNull())
    .addColumn('up_to', 'bigint', (c) => c.notNull())
    .addColumn('read_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('read_markers_pk', ['conversation_id', 'member_key', 'up_to'])
    .execute();
  await sql`insert into read_markers (conversation_id, member_key, up_to, read_at)
    select c.id, 'u:' || o.receiver_user_id, max(o.id), o.read_at
    from ${old} o join conversations c on c.direct_key = o.pair
    where o.read_at is not null group by c.id, o.receiver_user_id, o.read_at`.execute(db);
  await sql`create table messages_peers_2x as select id, peer from ${old} where peer is not null`.execute(db);
}

async function createDeliveries(db: AnyDatabase, from: string): Promise<void> {
  await db.schema
    .createTable('message_deliveries')
    .addColumn('message_id', 'bigint', (c) => c.notNull().references('messages.id').onDelete('cascade'))
    .addColumn('server', 'varchar(253)', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('failure_code', 'varchar(64)')
    .addPrimaryKeyConstraint('message_deliveries_pk', ['message_id', 'server'])
    .execute();
  await sql`insert into message_deliveries (message_id, server, status, failure_code) select id, peer, status, failure_code from ${sql.table(from)}`.execute(db);
}

/** Deliveries to peers of local senders' messages, as the old rows say. */
const OLD_DELIVERIES = sql`select id, peer, status, failure_code from messages where peer is not null and sender_user_id is not null`;

/**
 * SQLite drops no column that a foreign key or an index names: the table is rebuilt. Dropping a
 * table deletes the rows of the tables whose foreign keys name it (and a rename rewrites those
 * keys), so the outbox and the receipts are set aside and rebuilt around it; the id counters,
 * which feed events draw from too, are carried over.
 */
async function rebuildMessagesSqlite(db: AnyDatabase): Promise<void> {
  const counters = await sql<{ name: string; seq: number }>`select name, seq from sqlite_sequence where name in ('messages', 'outbox')`.execute(db);
  await moveOutOfMessages(db, 'messages');
  await sql`create table deliveries_2x as ${OLD_DELIVERIES}`.execute(db);
  await db.schema
    .createTable('messages_new')
    .addColumn('id', autoIdType('sqlite'), autoId('sqlite'))
    .addColumn('uuid', 'varchar(36)', (c) => c.notNull())
    .addColumn('conversation_id', 'bigint', (c) => c.notNull().references('conversations.id').onDelete('cascade'))
    .addColumn('sender_key', 'varchar(450)', (c) => c.notNull())
    .addColumn('sender_user_id', 'bigint', (c) => c.references('users.id').onDelete('cascade'))
    .addColumn('sender', 'varchar(420)', (c) => c.notNull())
    .addColumn('sent_to', 'varchar(420)')
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('client_id', 'varchar(100)')
    .addColumn('edited_at', 'bigint')
    .addColumn('deleted', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await sql`insert into messages_new (id, uuid, conversation_id, sender_key, sender_user_id, sender, sent_to, body, created_at, client_id, edited_at, deleted)
    select o.id, o.uuid, c.id, ${senderKeyOf('o')}, o.sender_user_id, o.sender, o.receiver, o.body, o.created_at, o.client_id, o.edited_at, o.deleted
    from messages o join conversations c on c.direct_key = o.pair order by o.id`.execute(db);
  await sql`create table outbox_2x as select * from outbox`.execute(db);
  await sql`create table receipts_2x as select * from federation_receipts`.execute(db);
  await sql`drop table outbox`.execute(db);
  await sql`drop table federation_receipts`.execute(db);
  await sql`drop table messages`.execute(db);
  await sql`alter table messages_new rename to messages`.execute(db);
  await createMessageIndexes(db);

  await db.schema
    .createTable('outbox')
    .addColumn('id', autoIdType('sqlite'), autoId('sqlite'))
    .addColumn('message_id', 'bigint', (c) => c.notNull().references('messages.id').onDelete('cascade'))
    .addColumn('server', 'varchar(253)', (c) => c.notNull())
    .addColumn('receiver_key', 'varchar(450)', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
    .addColumn('claimed_until', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('claimed_by', 'varchar(64)')
    .addColumn('last_error', 'varchar(200)')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('op', 'varchar(8)')
    .addColumn('op_id', 'varchar(36)')
    .addColumn('conversation_id', 'bigint', (c) => c.notNull().defaultTo(0))
    .execute();
  await sql`insert into outbox (id, message_id, server, receiver_key, attempts, next_attempt_at, claimed_until, claimed_by, last_error, created_at, op, op_id, conversation_id)
    select o.id, o.message_id, o.peer, o.receiver_key, o.attempts, o.next_attempt_at, o.claimed_until, o.claimed_by, o.last_error, o.created_at, o.op, o.op_id, m.conversation_id
    from outbox_2x o join messages m on m.id = o.message_id order by o.id`.execute(db);
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
  await sql`insert into federation_receipts (peer, request_key, message_id, created_at) select peer, request_key, message_id, created_at from receipts_2x`.execute(db);
  await db.schema.createIndex('federation_receipts_created_at').on('federation_receipts').column('created_at').execute();
  await createDeliveries(db, 'deliveries_2x');
  for (const table of ['outbox_2x', 'receipts_2x', 'deliveries_2x']) await sql`drop table ${sql.table(table)}`.execute(db);

  for (const { name, seq } of counters.rows) {
    await sql`delete from sqlite_sequence where name = ${name}`.execute(db);
    await sql`insert into sqlite_sequence (name, seq) values (${name}, max(${Number(seq)}, coalesce((select max(id) from ${sql.table(name)}), 0)))`.execute(db);
  }
}

/** PostgreSQL alters in place: two columns filled by one join, the old ones dropped with their indexes. */
async function alterMessagesPostgres(db: AnyDatabase): Promise<void> {
  await moveOutOfMessages(db, 'messages');
  await sql`create temporary table deliveries_2x as ${OLD_DELIVERIES}`.execute(db);
  await createDeliveries(db, 'deliveries_2x');
  await sql`drop table deliveries_2x`.execute(db);
  await sql`alter table messages add column conversation_id bigint, add column sender_key varchar(450)`.execute(db);
  await sql`update messages m set conversation_id = c.id, sender_key = ${senderKeyOf('m')} from conversations c where c.direct_key = m.pair`.execute(db);
  await sql`alter table messages alter column conversation_id set not null, alter column sender_key set not null,
    add constraint messages_conversation_fk foreign key (conversation_id) references conversations (id) on delete cascade`.execute(db);
  // The receiver's address stays (as sent_to), spelled as it was sent to; a group message (later) has none.
  await sql`alter table messages rename column receiver to sent_to`.execute(db);
  await sql`alter table messages alter column sent_to drop not null, drop column pair, drop column receiver_user_id, drop column peer,
    drop column status, drop column failure_code, drop column read_at`.execute(db);
}

async function createMessageIndexes(db: AnyDatabase): Promise<void> {
  await db.schema.createIndex('messages_sender_id').on('messages').columns(['sender_user_id', 'id']).execute();
  await db.schema.createIndex('messages_uuid').on('messages').column('uuid').execute();
  // Partial: most sends carry no client id, and an index entry per message costs every insert.
  await db.schema
    .createIndex('messages_client_id')
    .on('messages')
    .columns(['sender_user_id', 'client_id'])
    .unique()
    .where(sql.ref('client_id'), 'is not', null)
    .execute();
}
