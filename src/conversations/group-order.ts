// A message's place in its group's order: the position its home gave it, then its id. On a
// member's backend the ids follow arrival, not that order (a post queued while the home was down
// may be ordered after messages that arrive later); a post the home has not ordered yet comes
// after every ordered one, as in the group's history.
import { sql, type Expression, type ExpressionBuilder, type RawBuilder, type SqlBool } from 'kysely';
import type { Tables } from '../db/schema.js';

export interface GroupPlace {
  order: number;
  id: number;
}

/** The order of a post the home has not ordered yet: after every ordered message. */
export const UNORDERED = Number.MAX_SAFE_INTEGER;

export function groupPlace(message: { id: number | bigint; position: number | bigint | null }): GroupPlace {
  return { order: message.position === null ? UNORDERED : Number(message.position), id: Number(message.id) };
}

/** Whether `a` comes before `b` in the group's order. */
export function comesBefore(a: GroupPlace, b: GroupPlace): boolean {
  return a.order < b.order || (a.order === b.order && a.id < b.id);
}

/** The place of a row of `messages` under `alias` as an SQL row value, to compare with another. */
export function placeSql(alias: string): RawBuilder<unknown> {
  return sql`(coalesce(${sql.ref(`${alias}.position`)}, ${UNORDERED}), ${sql.ref(`${alias}.id`)})`;
}

/**
 * A group's posts the home has not ordered yet, as a condition on `messages`: no position, and
 * no `sent_to` (which a direct message has), the condition that lets their partial index serve.
 */
export function isUnorderedPost(eb: ExpressionBuilder<Tables, 'messages'>): Expression<SqlBool> {
  return eb.and([eb('position', 'is', null), eb('sent_to', 'is', null)]);
}
