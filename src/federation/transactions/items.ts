// An outbox entry as a transaction item (federation.md, "Transactions"): a message, an edit or a
// delete of one, or a read marker up to one, each under the id a v1 request would carry. Pure.
import type { OutboundMessage } from '../../messages/ports.js';
import type { TransactionItem } from './protocol.js';

/** The item an entry travels as; its text must have been opened (none for a delete or a read marker). */
export function itemOf(message: OutboundMessage): TransactionItem {
  const timestamp = new Date(message.createdAt).toISOString();
  const parties = { sender: message.sender, receiver: message.receiverName };
  switch (message.op?.kind) {
    case undefined:
      return { type: 'message', id: message.uuid, ...parties, text: message.text, timestamp };
    case 'edit':
      return { type: 'edit', id: message.op.id, ref: message.uuid, ...parties, text: message.text, timestamp };
    case 'delete':
      return { type: 'delete', id: message.op.id, ref: message.uuid, ...parties, timestamp };
    case 'read':
      // The entry was written when the reader read: its time is the marker's.
      return { type: 'read', id: message.op.id, reader: message.readerName ?? '', partner: message.receiverName, up_to: message.uuid, read_at: timestamp };
  }
}
