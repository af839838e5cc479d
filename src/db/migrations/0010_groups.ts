// Groups: a conversation of kind 'group' keeps its name in `title` (already there) and gains a
// membership `version` that only grows (every change of members, roles or name moves it on,
// which federation will carry as the group's state); a member's feed holds the conversation's
// messages after `feed_from` (a member who joins a group late reads its history, but does not
// get it as news); a feed event about a group names it, so a member who left or was removed no
// longer reads it. Leaving deletes the member's row: the group's history stays, and access ends
// with the row.
import type { AnyDatabase, Migration } from './migration.js';

export const groupsMigration: Migration = {
  name: '0010_groups',
  async up(db: AnyDatabase) {
    await db.schema.alterTable('conversations').addColumn('version', 'bigint', (c) => c.notNull().defaultTo(0)).execute();
    await db.schema.alterTable('conversation_members').addColumn('feed_from', 'bigint', (c) => c.notNull().defaultTo(0)).execute();
    await db.schema.alterTable('events').addColumn('conversation_id', 'bigint').execute();
  },
};
