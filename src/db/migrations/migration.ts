// What a migration is, apart from the runner (migrate.ts) that applies the list of them, so
// that the migrations and the runner do not import each other.
import type { Kysely } from 'kysely';
import type { DatabaseKind } from '../database.js';

// Migrations see an untyped database: they must keep working as the table types move on.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyDatabase = Kysely<any>;

export interface Migration {
  name: string;
  up(db: AnyDatabase, kind: DatabaseKind): Promise<void>;
}
