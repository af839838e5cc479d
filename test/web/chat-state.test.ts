// The web client's chat state, piece by piece: the conversation key, the list's rows, one
// history, the read markers and the misfiled-send correction, called directly on plain data.
import { describe, expect, it } from 'vitest';
import type { Api, Conversation, Message } from '../../web/src/api.js';
import { conversationOf, direct, group, historyQuery, isMine, mapKey, type MapKey } from '../../web/src/chat/conversation-key.js';
import { emptyHistory, pendingSend, settleSend, upsertMessage, type History } from '../../web/src/chat/history.js';
import { applyToRow, ConversationRows, mergeRows, sortRows, type Row } from '../../web/src/chat/list.js';
import { applyRead, applyStatus, markReadUpTo, newestUnread } from '../../web/src/chat/read-markers.js';
import { moveMisfiled } from '../../web/src/chat/misfiled.js';

const ME = 'alice';

function message(id: number, sender: string, receiver: string, changes: Partial<Message> = {}): Message {
  return { id, sender, receiver, group: null, message: `text ${id}`, timestamp: '2026-11-30T10:00:00.000Z', status: 'delivered', read_at: null, edited_at: null, deleted: false, ...changes };
}

const mine = (m: Message) => isMine(m, ME);

function historyOf(address: string, ...messages: Message[]): History {
  const history = emptyHistory(direct(address));
  for (const m of messages) upsertMessage(history, m, mine(m));
  return history;
}

describe('conversation key', () => {
  it('holds a direct conversation under its partner ignoring case', () => {
    expect(mapKey(direct('Bob@B'))).toBe(mapKey(direct('bob@b')));
    expect(mapKey(direct('bob'))).not.toBe(mapKey(direct('bob@b')));
  });

  it('never holds a group where a partner of the same name is', () => {
    const id = '0b6f8a52-5a0e-4d4e-9d3c-2f6b1f6c1a11';
    expect(mapKey({ kind: 'group', id })).not.toBe(mapKey(direct(id)));
  });

  it('files a message under the other side, whoever sent it', () => {
    expect(conversationOf(message(1, 'Alice', 'bob@b'), ME)).toEqual(direct('bob@b'));
    expect(conversationOf(message(2, 'Bob', 'alice'), ME)).toEqual(direct('Bob'));
  });

  it('names the conversation to the history endpoint', () => {
    expect(historyQuery(direct('bob'))).toEqual({ with: 'bob' });
    expect(historyQuery({ kind: 'group', id: 'g1' })).toEqual({ group: 'g1' });
  });
});

describe('conversation rows', () => {
  const summary = (last: Message, unread: number): Conversation => ({ with: last.sender === ME ? last.receiver : last.sender, group: null, last_message: last, unread });

  it('keeps a newer message a live event brought over the server page', () => {
    const rows = new Map<MapKey, Row>();
    applyToRow(rows, direct('bob'), message(9, 'bob', ME), false, false);
    mergeRows(rows, [summary(message(7, 'bob', ME), 3), summary(message(5, 'carol', ME), 2)]);
    expect(rows.get(mapKey(direct('bob')))).toMatchObject({ last: { id: 9 }, unread: 1 });
    expect(rows.get(mapKey(direct('carol')))).toMatchObject({ last: { id: 5 }, unread: 2 });
  });

  it('lists a conversation without a message first, then the most recent', () => {
    const rows = new Map<MapKey, Row>();
    mergeRows(rows, [summary(message(4, 'bob', ME), 0), summary(message(8, 'carol', ME), 0)]);
    rows.set(mapKey(direct('dave')), { conversation: direct('dave'), last: null, unread: 0 });
    expect(sortRows([...rows.values()]).map((row) => row.last?.id ?? null)).toEqual([null, 8, 4]);
  });

  it('puts an empty group found on loading last, and one added live where its event stands', () => {
    const rows = new Map<MapKey, Row>();
    mergeRows(rows, [summary(message(4, 'bob', ME), 0), summary(message(8, 'carol', ME), 0)]);
    rows.set(mapKey(group('quiet')), { conversation: group('quiet'), last: null, unread: 0, since: 0 });
    rows.set(mapKey(group('new')), { conversation: group('new'), last: null, unread: 0, since: 6 });
    expect(sortRows([...rows.values()]).map((row) => (row.conversation.kind === 'group' ? row.conversation.id : row.last!.id))).toEqual([8, 'new', 4, 'quiet']);
  });

  it('keeps a group that no loaded page holds out of the list until the last page is in: it may have messages further down', async () => {
    const groupMessage = (id: number, to: string) => ({ ...message(id, 'bob', ME), receiver: null, group: to });
    const listed = (id: string) => ({ id, name: id, home: 'a', created_at: '2026-11-30T10:00:00.000Z', members_count: 3 });
    const pages: Record<string, { results: Conversation[]; next: string | null }> = {
      first: { results: [summary(message(9, 'bob', ME), 0)], next: 'older' },
      older: { results: [{ with: null, group: { id: 'old', name: 'old', members_count: 3 }, last_message: groupMessage(2, 'old'), unread: 1 }], next: null },
    };
    const api = { conversations: async (before?: string) => pages[before ?? 'first']!, groups: async () => ({ results: [listed('old'), listed('quiet')] }) };
    const rows = new ConversationRows(api as unknown as Api, { saw: () => undefined, named: () => undefined, gone: () => undefined, changed: () => undefined });
    const shown = () => rows.sorted().map((row) => (row.conversation.kind === 'group' ? `${row.conversation.id} ${row.last?.id ?? '-'} ${row.unread}` : `${row.last!.id}`));

    await rows.load();
    expect(shown()).toEqual(['9']);
    await rows.loadMore();
    expect(shown()).toEqual(['9', 'old 2 1', 'quiet - 0']);
  });

  it('counts only their unread messages that are not on screen', () => {
    const rows = new Map<MapKey, Row>();
    const key = mapKey(direct('bob'));
    applyToRow(rows, direct('bob'), message(1, 'bob', ME), false, false);
    applyToRow(rows, direct('bob'), message(2, ME, 'bob'), true, false);
    applyToRow(rows, direct('bob'), message(3, 'bob', ME), false, true);
    applyToRow(rows, direct('bob'), message(4, 'bob', ME, { read_at: '2026-11-30T10:01:00.000Z' }), false, false);
    expect(rows.get(key)).toMatchObject({ last: { id: 4 }, unread: 1 });
  });

  it('replaces the last message by a later version of it, and ignores an older one', () => {
    const rows = new Map<MapKey, Row>();
    applyToRow(rows, direct('bob'), message(5, 'bob', ME), false, false);
    applyToRow(rows, direct('Bob'), message(5, 'bob', ME, { message: 'edited', edited_at: '2026-11-30T10:02:00.000Z' }), false, false);
    // The row takes the server's latest spelling of the address.
    expect(rows.get(mapKey(direct('bob')))!.conversation).toEqual(direct('Bob'));
    applyToRow(rows, direct('bob'), message(3, 'bob', ME), false, false);
    expect(rows.get(mapKey(direct('bob')))).toMatchObject({ last: { id: 5, message: 'edited' }, unread: 1 });
  });
});

describe('one history', () => {
  it('shows a message that came by several paths once, in id order, sends in flight last', () => {
    const history = historyOf('bob', message(3, 'bob', ME), message(1, 'bob', ME));
    history.entries.push(pendingSend(ME, direct('bob'), 'hello'));
    upsertMessage(history, message(2, 'bob', ME), false);
    upsertMessage(history, message(3, 'bob', ME, { deleted: true, message: '' }), false);
    expect(history.entries.map((entry) => entry.message.id)).toEqual([1, 2, 3, 0]);
    expect(history.entries[2]!.message.deleted).toBe(true);
  });

  it('takes our echo for the one send in flight with its text, and for none when two match', () => {
    const one = historyOf('bob');
    const send = pendingSend(ME, direct('bob'), 'hi');
    one.entries.push(send);
    upsertMessage(one, message(10, ME, 'bob', { message: 'hi' }), true);
    expect(one.entries).toEqual([send]);
    expect(send.message.id).toBe(10);

    const two = historyOf('bob');
    two.entries.push(pendingSend(ME, direct('bob'), 'hi'), pendingSend(ME, direct('bob'), 'hi'));
    upsertMessage(two, message(11, ME, 'bob', { message: 'hi' }), true);
    expect(two.entries.map((entry) => entry.message.id)).toEqual([11, 0, 0]);
  });

  it('settles a send whose echo was filed apart: one entry, with the echo\'s later status', () => {
    const history = historyOf('bob');
    const first = pendingSend(ME, direct('bob'), 'same');
    const second = pendingSend(ME, direct('bob'), 'same');
    history.entries.push(first, second);
    upsertMessage(history, message(20, ME, 'bob', { message: 'same', status: 'failed' }), true);
    settleSend(history, first, { message: 'Message sent', id: 20, status: 'queued', timestamp: '2026-11-30T10:03:00.000Z' });
    expect(history.entries).toEqual([first, second]);
    expect(first).toMatchObject({ sending: false, message: { id: 20, status: 'failed', timestamp: '2026-11-30T10:03:00.000Z' } });
  });
});

describe('read markers', () => {
  const readAt = '2026-11-30T11:00:00.000Z';

  it('finds the newest of their unread messages, in the history or the row', () => {
    const history = historyOf('bob', message(1, 'bob', ME), message(2, ME, 'bob'), message(3, 'bob', ME, { read_at: readAt }));
    expect(newestUnread(undefined, history, mine)).toBe(1);
    expect(newestUnread({ conversation: direct('bob'), last: message(6, 'bob', ME), unread: 1 }, history, mine)).toBe(6);
    expect(newestUnread({ conversation: direct('bob'), last: message(7, ME, 'bob'), unread: 0 }, historyOf('bob'), mine)).toBe(0);
  });

  it('marks their messages up to the mark read, not ours nor later ones', () => {
    const history = historyOf('bob', message(1, 'bob', ME), message(2, ME, 'bob'), message(3, 'bob', ME));
    const row: Row = { conversation: direct('bob'), last: message(3, 'bob', ME), unread: 2 };
    markReadUpTo(row, history, 1, readAt, mine);
    expect(history.entries.map((entry) => entry.message.read_at)).toEqual([readAt, null, null]);
    expect(row).toMatchObject({ unread: 0, last: { read_at: null } });
  });

  it('shows the partner\'s read mark on our messages only', () => {
    const history = historyOf('bob', message(1, ME, 'bob'), message(2, 'bob', ME), message(3, ME, 'bob'));
    const row: Row = { conversation: direct('bob'), last: message(3, ME, 'bob'), unread: 0 };
    applyRead(row, history, 2, readAt, mine);
    expect(history.entries.map((entry) => entry.message.read_at)).toEqual([readAt, null, null]);
    applyRead(row, history, 3, '2026-11-30T12:00:00.000Z', mine);
    expect(history.entries.map((entry) => entry.message.read_at)).toEqual([readAt, null, '2026-11-30T12:00:00.000Z']);
    expect(row.last!.read_at).toBe('2026-11-30T12:00:00.000Z');
  });

  it('changes a delivery status wherever the message shows', () => {
    const history = historyOf('bob', message(4, ME, 'bob', { status: 'queued' }));
    const row: Row = { conversation: direct('bob'), last: message(4, ME, 'bob', { status: 'queued' }), unread: 0 };
    applyStatus([history], [row], 4, 'delivered');
    expect([history.entries[0]!.message.status, row.last!.status]).toEqual(['delivered', 'delivered']);
  });
});

describe('a send filed under another address', () => {
  it('leaves the conversation it was shown in, whose row falls back to the message before', () => {
    const sent = message(5, ME, 'bob@b');
    const bob = historyOf('bob', message(2, 'bob', ME), message(5, ME, 'bob'));
    bob.entries.push(pendingSend(ME, direct('bob'), 'in flight'));
    const home = historyOf('bob@b', sent);
    const rows = new Map<MapKey, Row>([[mapKey(direct('bob')), { conversation: direct('bob'), last: message(5, ME, 'bob'), unread: 0 }]]);
    const histories: [MapKey, History][] = [
      [mapKey(direct('bob')), bob],
      [mapKey(direct('bob@b')), home],
    ];
    expect(moveMisfiled(histories, rows, sent, mapKey(direct('bob@b')))).toEqual([mapKey(direct('bob'))]);
    expect(bob.entries.map((entry) => entry.message.id)).toEqual([2, 0]);
    expect(home.entries.map((entry) => entry.message.id)).toEqual([5]);
    expect(rows.get(mapKey(direct('bob')))!.last!.id).toBe(2);
  });

  it('takes the row away when nothing was said before it', () => {
    const sent = message(5, ME, 'bob@b');
    const rows = new Map<MapKey, Row>([[mapKey(direct('bob')), { conversation: direct('bob'), last: message(5, ME, 'bob'), unread: 0 }]]);
    const left = moveMisfiled([[mapKey(direct('bob')), historyOf('bob', message(5, ME, 'bob'))]], rows, sent, mapKey(direct('bob@b')));
    expect(left).toHaveLength(1);
    expect(rows.size).toBe(0);
  });
});
