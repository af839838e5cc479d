// A message's place in its group's order is indexed only where a group message has one: the
// (conversation, position) index of 0011 took an entry for every direct message too (position
// null), a scattered page more in every write batch for nothing (a fifth of the write path's
// time with 50 conversations). A group's posts the home has not ordered yet (position null; a
// direct message has a `sent_to`, a group message none) get an index of their own, as small as
// the backlog of such posts.
import { sql } from 'kysely';
import type { AnyDatabase, Migration } from './migration.js';

export const partialPositionIndexMigration: Migration = {
  name: '0012_partial_position_index',
  async up(db: AnyDatabase) {
    await db.schema.dropIndex('messages_position').execute();
    await db.schema.createIndex('messages_position').on('messages').columns(['conversation_id', 'position']).where(sql.ref('position'), 'is not', null).execute();
    await db.schema
      .createIndex('messages_unordered')
      .on('messages')
      .columns(['conversation_id', 'id'])
      .where(sql.ref('position'), 'is', null)
      .where(sql.ref('sent_to'), 'is', null)
      .execute();
  },
};
