// An outbox entry as a transaction item (federation.md, "Transactions"): a message, an edit or a
// delete of one, or a read marker up to one, each under the id a v1 request would carry; or a
// group item (groups.md, "Groups across backends") under its own id, its fields as stored with
// the entry and a new or edited message's text as it is now. Pure.
import type { GroupItem, OutboundMessage, OutboxOp, OutboxRequest } from '../../messages/ports.js';
import type { TransactionItem } from './protocol.js';

/** The item an entry travels as; its text must have been opened (none for a delete or a read marker). */
export function itemOf(message: OutboundMessage): TransactionItem {
  if (message.group) return groupItemOf(message.group.id, message.group.item, message.text);
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

function groupItemOf(id: string, group: GroupItem, text: string): TransactionItem {
  switch (group.type) {
    case 'group_state':
      return { type: 'group_state', id, ...group.fields };
    case 'group_request':
      return { type: 'group_request', id, ...group.fields };
    case 'group_message':
      return { type: 'group_message', id, ...group.fields, ...(carriesText(group) ? { text } : {}) };
    case 'group_post':
      return { type: 'group_post', id, ...group.fields, ...(carriesText(group) ? { text } : {}) };
  }
}

/** A new message, or an edit: the item carries the message's text. */
function carriesText(group: GroupItem): boolean {
  return (group.type === 'group_message' || group.type === 'group_post') && (group.fields.kind === 'message' || group.fields.kind === 'edit');
}

/** Whether the entry's item carries its message's text, opened from the row when sent. */
export function needsText(message: Pick<OutboundMessage, 'op' | 'group'>): boolean {
  if (message.group) return carriesText(message.group.item);
  return message.op === undefined || message.op.kind === 'edit';
}

/**
 * Whether the entry delivers a new message, whose delivery row and sender's status follow its
 * end: a message to a peer's user, or a member's post of a new message to the group's home.
 */
export function carriesDelivery(group: GroupItem | undefined, op: OutboxOp | undefined): boolean {
  if (group) return group.type === 'group_post' && group.fields.kind === 'message';
  return op === undefined;
}

/**
 * Whether an entry first on its line is claimed as it is written, so that its sender's answer
 * can wait for its first try: a new message, or a member's request to a group's home.
 */
export function claimedAtOnce(request: OutboxRequest): boolean {
  return carriesDelivery(request.group, request.op) || request.group?.type === 'group_request';
}

/** An edit or a delete of a message (in a group, also a read up to it): direct, a member's post to a group's home, or the home's to a member's backend. */
export function isChange(message: Pick<OutboundMessage, 'op' | 'group'>): boolean {
  const item = message.group?.item;
  if (item) return (item.type === 'group_post' || item.type === 'group_message') && item.fields.kind !== 'message';
  return message.op?.kind === 'edit' || message.op?.kind === 'delete';
}

/**
 * A change the receiver refused because the message is not there (404: it never got it, as when
 * the message was deleted before it went) or is deleted (409): there was nothing to change.
 */
export function hadNothingToChange(message: Pick<OutboundMessage, 'op' | 'group'>, code: string | null): boolean {
  return isChange(message) && (code === 'not_found' || code === 'deleted');
}
