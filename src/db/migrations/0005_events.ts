// The change feed: a user's feed is their messages (seq = message id) and their rows here
// (edits, deletes, read markers, status changes), numbered from the messages' counter in commit
// order; the high-water mark of pruning; and outbox entries that carry edits and deletes.
import { autoId, autoIdType } from '../columns.js';
import type { AnyDatabase, Migration } from './migration.js';

export const eventsMigration: Migration = {
  name: '0005_events',
  async up(db: AnyDatabase, kind) {
    await db.schema
      .createTable('events')
      // Always given on insert (drawn from the messages' counter); the column's own default goes unused.
      .addColumn('seq', autoIdType(kind), autoId(kind))
      .addColumn('user_id', 'bigint', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('type', 'varchar(32)', (c) => c.notNull())
      // The message an event is about: its current state is read when the event is read, so
      // that no copy of a text outlives an edit or a delete.
      .addColumn('message_id', 'bigint')
      // The other fields of events that are not about a message's content (JSON).
      .addColumn('data', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('events_user_seq').on('events').columns(['user_id', 'seq']).execute();

    await db.schema
      .createTable('event_log_state')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      // Every event with a seq up to this one may have been pruned.
      .addColumn('pruned_through', 'bigint', (c) => c.notNull())
      .execute();
    await db.insertInto('event_log_state').values({ id: 1, pruned_through: 0 }).execute();

    // An outbox entry carries a new message (op null), or an edit or a delete of the message
    // it names, under a request id of its own.
    await db.schema.alterTable('outbox').addColumn('op', 'varchar(8)').execute();
    await db.schema.alterTable('outbox').addColumn('op_id', 'varchar(36)').execute();
  },
};
