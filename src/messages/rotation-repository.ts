// All SQL of the keys at rest: the sealed values not under the current key, read in key order and
// replaced only where they have not changed since they were read (rotation), and the sample the
// start-up check opens.
import type { Kysely } from 'kysely';
import type { Tables } from '../db/schema.js';

export class RotationRepository {
  constructor(private readonly db: Kysely<Tables>) {}

  /** The oldest and the newest stored texts (erased ones aside): a cheap sample of the keys in use. */
  async oldestAndNewestSealed(): Promise<{ id: number; body: string }[]> {
    const [oldest, newest] = await Promise.all(
      (['asc', 'desc'] as const).map((direction) =>
        this.db.selectFrom('messages').select(['id', 'body']).where('body', '!=', '').orderBy('id', direction).limit(1).executeTakeFirst(),
      ),
    );
    return [oldest, newest].filter((row) => row !== undefined);
  }

  /** How many stored texts are not sealed with the given key id (erased ones do not count). */
  async countSealedWithOtherKeys(currentKeyPrefix: string): Promise<number> {
    const row = await this.db
      .selectFrom('messages')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .where('body', '!=', '')
      .where('body', 'not like', `${currentKeyPrefix}%`)
      .executeTakeFirstOrThrow();
    return Number(row.count);
  }

  async sealedWithOtherKeys(currentKeyPrefix: string, afterId: number, limit: number): Promise<{ id: number; body: string }[]> {
    return this.db
      .selectFrom('messages')
      .select(['id', 'body'])
      .where('id', '>', afterId)
      .where('body', '!=', '')
      .where('body', 'not like', `${currentKeyPrefix}%`)
      .orderBy('id')
      .limit(limit)
      .execute();
  }

  /** Replaces bodies that have not changed since they were read; returns how many were replaced. */
  async replaceBodies(changes: { id: number; from: string; to: string }[]): Promise<number> {
    return this.db.transaction().execute(async (trx) => {
      let replaced = 0;
      for (const change of changes) {
        const result = await trx.updateTable('messages').set({ body: change.to }).where('id', '=', change.id).where('body', '=', change.from).executeTakeFirst();
        replaced += Number(result.numUpdatedRows);
      }
      return replaced;
    });
  }
}
