// Each username's confusable skeleton (Unicode TS #39), unique, so no new name can look like an
// existing one. Existing names get theirs here; of existing names that already look alike, the
// first registered keeps the skeleton and the others none: they keep logging in as before.
import { confusableSkeleton } from '../../unicode/lookalikes.js';
import type { AnyDatabase, Migration } from './migration.js';

const BATCH = 1000;

export const usernameSkeletonsMigration: Migration = {
  name: '0007_username_skeletons',
  async up(db: AnyDatabase) {
    await db.schema.alterTable('users').addColumn('username_skeleton', 'text').execute();
    const taken = new Set<string>();
    for (let afterId = 0; ; ) {
      const users: Array<{ id: number; username: string }> = await db
        .selectFrom('users')
        .select(['id', 'username'])
        .where('id', '>', afterId)
        .orderBy('id')
        .limit(BATCH)
        .execute();
      if (users.length === 0) break;
      for (const { id, username } of users) {
        const skeleton = confusableSkeleton(username);
        if (taken.has(skeleton)) continue;
        taken.add(skeleton);
        await db.updateTable('users').set({ username_skeleton: skeleton }).where('id', '=', id).execute();
      }
      afterId = Number(users.at(-1)!.id);
    }
    await db.schema.createIndex('users_username_skeleton').on('users').column('username_skeleton').unique().execute();
  },
};
