// The start-up check that the configured keys open the stored messages: started with other keys
// (a wrong STORAGE_KEY, a key generated for another working directory), a backend would answer
// every conversation with errors, so it refuses to start instead.
import { AtRestDecryptionError, openAtRest, type KeyRing } from '../crypto/aead.js';
import type { MessagesRepository } from './repository.js';

export class StoredMessagesUnreadable extends Error {
  constructor(detail: string, keyDir: string) {
    super(
      `the stored messages open under none of the configured keys (${detail}): set STORAGE_KEY, and ENCRYPTION_KEY or ` +
        `ENCRYPTION_KEYS_PREVIOUS for data of earlier versions, to the keys this database was written with (generated keys are in ${keyDir})`,
    );
    this.name = new.target.name;
  }
}

/** Opens the oldest and the newest stored message, which tells a wrong key without reading them all. */
export async function checkStoredMessagesOpen(repository: MessagesRepository, ring: KeyRing, keyDir: string): Promise<void> {
  for (const { id, body } of await repository.oldestAndNewestSealed()) {
    try {
      openAtRest(ring, body, String(id));
    } catch (error) {
      if (error instanceof AtRestDecryptionError) throw new StoredMessagesUnreadable(error.message, keyDir);
      throw error;
    }
  }
}
