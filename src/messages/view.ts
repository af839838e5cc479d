// A stored message as clients see it: the direct conversation's other member is its receiver,
// its delivery row (if it went to a peer) its status, its receiver's read marker its read_at; a
// group message names its group instead, and has no receiver and no read_at.
import type { Static } from 'typebox';
import { openAtRest, type KeyRing } from '../crypto/aead.js';
import type { MessageRecord } from './repository.js';
import type { MessageSchema } from './schemas.js';

export type MessageView = Static<typeof MessageSchema>;
export type MessageStatus = MessageView['status'];

export class MessageViews {
  constructor(private readonly ring: KeyRing) {}

  view(record: MessageRecord, text?: string): MessageView {
    return {
      id: record.id,
      sender: record.sender,
      receiver: record.receiver,
      group: record.group,
      message: text ?? this.textOf(record),
      timestamp: new Date(record.created_at).toISOString(),
      status: record.status,
      read_at: record.read_at === null ? null : new Date(record.read_at).toISOString(),
      edited_at: record.edited_at === null ? null : new Date(record.edited_at).toISOString(),
      deleted: record.deleted === 1,
    };
  }

  /** The text as it is now ('' once deleted). */
  textOf(record: Pick<MessageRecord, 'id' | 'body' | 'deleted'>): string {
    return record.deleted === 1 || record.body === '' ? '' : openAtRest(this.ring, record.body, String(record.id));
  }
}
