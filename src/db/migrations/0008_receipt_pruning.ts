// Receipts keep no text: an answer kept beside a message outlived the message's edits and
// deletes. A repeat is answered with the message's text now. Receipts are pruned by age.
import type { AnyDatabase, Migration } from './migration.js';

export const receiptPruningMigration: Migration = {
  name: '0008_receipt_pruning',
  async up(db: AnyDatabase) {
    await db.schema.alterTable('federation_receipts').dropColumn('answer').execute();
    await db.schema.createIndex('federation_receipts_created_at').on('federation_receipts').column('created_at').execute();
  },
};
