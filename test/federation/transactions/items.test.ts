// Outbox entries as transaction items: each kind under the id its v1 request would carry, and
// every item the sender makes passes the receiver's own check.
import { describe, expect, it } from 'vitest';
import type { OutboundMessage } from '../../../src/messages/ports.js';
import { itemOf } from '../../../src/federation/transactions/items.js';
import { checkItem } from '../../../src/federation/transactions/protocol.js';

const message: OutboundMessage = {
  entryId: 1,
  messageId: 42,
  uuid: '0190f3a4-5b6c-7d8e-9f01-23456789abcd',
  peer: 'b',
  senderUserId: 5,
  sender: 'alice',
  receiverName: 'bob',
  text: 'hello',
  createdAt: Date.UTC(2026, 10, 29, 12, 0, 0),
};
const changeId = '6f1c2a0e-8b1d-4c3e-9a57-2d0f4b6e8c11';

describe('itemOf', () => {
  it('makes a message item under the message id', () => {
    expect(itemOf(message)).toEqual({ type: 'message', id: message.uuid, sender: 'alice', receiver: 'bob', text: 'hello', timestamp: '2026-11-29T12:00:00.000Z' });
  });

  it('makes an edit and a delete under their own ids, naming the message in ref; a delete carries no text', () => {
    expect(itemOf({ ...message, text: 'changed', op: { kind: 'edit', id: changeId } })).toEqual({
      type: 'edit',
      id: changeId,
      ref: message.uuid,
      sender: 'alice',
      receiver: 'bob',
      text: 'changed',
      timestamp: '2026-11-29T12:00:00.000Z',
    });
    expect(itemOf({ ...message, text: '', op: { kind: 'delete', id: changeId } })).toEqual({
      type: 'delete',
      id: changeId,
      ref: message.uuid,
      sender: 'alice',
      receiver: 'bob',
      timestamp: '2026-11-29T12:00:00.000Z',
    });
  });

  it('makes a read item: the local reader read the partner’s messages up to this one, at the time the entry was written', () => {
    // A read entry's message is the peer's user's: the partner is the receiver of the item.
    const read = itemOf({ ...message, sender: 'bob@b', receiverName: 'bob', readerName: 'alice', text: '', op: { kind: 'read', id: changeId } });
    expect(read).toEqual({ type: 'read', id: changeId, reader: 'alice', partner: 'bob', up_to: message.uuid, read_at: '2026-11-29T12:00:00.000Z' });
  });

  it('makes items that pass the receiver’s check', () => {
    const items = [
      itemOf(message),
      itemOf({ ...message, op: { kind: 'edit', id: changeId } }),
      itemOf({ ...message, op: { kind: 'delete', id: changeId } }),
      itemOf({ ...message, readerName: 'alice', op: { kind: 'read', id: changeId } }),
    ];
    expect(items.map((item) => checkItem(item).ok)).toEqual([true, true, true, true]);
  });
});

describe('itemOf a group entry', () => {
  const group = '0190f3a4-5b6c-7d8e-9f01-0000000000aa';
  const entry: OutboundMessage = { ...message, sender: '', receiverName: '', text: '' };

  it('makes a state or a request from its stored fields alone, under the entry’s own id', () => {
    const state = { group, name: 'trip', version: 3, created_at: '2026-11-29T12:00:00.000Z', members: [{ user: 'alice@a', role: 'owner' as const, joined_at: '2026-11-29T12:00:00.000Z' }] };
    const item = itemOf({ ...entry, messageId: null, group: { id: changeId, item: { type: 'group_state', fields: state } } });
    expect(item).toEqual({ type: 'group_state', id: changeId, ...state });
    const request = { group, sender: 'bob', action: 'add' as const, user: 'dave@a' };
    expect(itemOf({ ...entry, messageId: null, group: { id: changeId, item: { type: 'group_request', fields: request } } })).toEqual({ type: 'group_request', id: changeId, ...request });
    expect(checkItem(item).ok).toBe(true);
  });

  it('carries the message’s text for a new message or an edit, and none for a delete or a read', () => {
    const fields = { group, message: message.uuid, sender: 'alice@a', timestamp: '2026-11-29T12:00:00.000Z' };
    const ordered = itemOf({ ...entry, text: 'hello', group: { id: changeId, item: { type: 'group_message', fields: { ...fields, kind: 'message', position: 42 } } } });
    expect(ordered).toEqual({ type: 'group_message', id: changeId, ...fields, kind: 'message', position: 42, text: 'hello' });
    expect(checkItem(ordered).ok).toBe(true);
    const read = itemOf({ ...entry, text: 'ignored', group: { id: changeId, item: { type: 'group_post', fields: { ...fields, sender: 'alice', kind: 'read' } } } });
    expect(read).toEqual({ type: 'group_post', id: changeId, ...fields, sender: 'alice', kind: 'read' });
    expect(checkItem(read).ok).toBe(true);
  });
});

