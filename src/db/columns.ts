// Column types that differ between the two databases, for migrations.
import { sql, type ColumnDefinitionBuilder, type RawBuilder } from 'kysely';
import type { DatabaseKind } from './database.js';

/** An integer primary key that only grows: AUTOINCREMENT on SQLite, an identity on PostgreSQL. */
export function autoIdType(kind: DatabaseKind): RawBuilder<unknown> {
  return kind === 'sqlite' ? sql`integer` : sql`bigint`;
}

export function autoId(kind: DatabaseKind) {
  return (column: ColumnDefinitionBuilder) =>
    kind === 'sqlite' ? column.primaryKey().autoIncrement() : column.primaryKey().generatedByDefaultAsIdentity();
}
