// The first answer to a peer's request, kept with its receipt: a change's, and a message's once a
// change alters its text. A repeat of the request is answered with it, as federation.md asks,
// even after later edits or a delete changed the message.
import type { AnyDatabase, Migration } from './migration.js';

export const receiptAnswersMigration: Migration = {
  name: '0006_receipt_answers',
  async up(db: AnyDatabase) {
    // Sealed at rest like a message's body; null while the answer is still the message's text.
    await db.schema.alterTable('federation_receipts').addColumn('answer', 'text').execute();
  },
};
