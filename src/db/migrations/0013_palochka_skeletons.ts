// The skeleton of a name with the Cyrillic small palochka (U+04CF) is now taken as the capital's
// (unicode/lookalikes.ts): such names get theirs again. One whose new skeleton another user
// holds keeps none, as in 0007: its user keeps logging in as before.
import { confusableSkeleton } from '../../unicode/lookalikes.js';
import type { AnyDatabase, Migration } from './migration.js';

export const palochkaSkeletonsMigration: Migration = {
  name: '0013_palochka_skeletons',
  async up(db: AnyDatabase) {
    // Few names, if any, hold the letter (no other character becomes it under NFKC); LIKE finds them.
    const users: Array<{ id: number; username: string }> = await db
      .selectFrom('users')
      .select(['id', 'username'])
      .where('username', 'like', '%\u04CF%')
      .orderBy('id')
      .execute();
    for (const { id, username } of users) {
      const skeleton = confusableSkeleton(username);
      const holder = await db.selectFrom('users').select('id').where('username_skeleton', '=', skeleton).where('id', '!=', id).executeTakeFirst();
      await db
        .updateTable('users')
        .set({ username_skeleton: holder ? null : skeleton })
        .where('id', '=', id)
        .execute();
    }
  },
};
