// The web client's group pieces, called directly on plain data: the conversation a group message
// or row stands for, who may do what in a group, who has seen a message, and how the page words
// members, typing and names.
import { describe, expect, it } from 'vitest';
import type { Conversation, Group, GroupMember, Message, Role } from '../../web/src/api.js';
import { conversationOf, conversationOfSummary, direct, group, mapKey, sendTarget } from '../../web/src/chat/conversation-key.js';
import { byRole, canChangeRole, canManage, canRemove, memberNames, memberOf, seenBy } from '../../web/src/chat/groups.js';
import { emptyHistory, pendingSend, upsertMessage } from '../../web/src/chat/history.js';
import { applyToRow, type Row } from '../../web/src/chat/list.js';
import { listText, typingText } from '../../web/src/format.js';

const ID = '0b6f8a52-5a0e-4d4e-9d3c-2f6b1f6c1a11';

function groupMessage(id: number, sender: string, changes: Partial<Message> = {}): Message {
  return { id, sender, receiver: null, group: ID, message: `text ${id}`, timestamp: '2026-11-30T10:00:00.000Z', status: 'delivered', read_at: null, edited_at: null, deleted: false, ...changes };
}

function member(user: string, role: Role, joined: number, readUpTo: number | null = null): GroupMember {
  return { user, role, joined_at: `2026-11-30T10:0${joined}:00.000Z`, read_up_to: readUpTo };
}

const TRIP: Group = {
  id: ID,
  name: 'Trip',
  home: 'a',
  created_at: '2026-11-30T10:00:00.000Z',
  members: [member('carol', 'member', 3, 7), member('alice', 'owner', 0, 9), member('dave', 'admin', 2, 5), member('bob', 'admin', 1, 9)],
};

describe('a group as a conversation', () => {
  it('files a group message under its group, whoever sent it', () => {
    expect(conversationOf(groupMessage(1, 'alice'), 'alice')).toEqual(group(ID));
    expect(conversationOf(groupMessage(2, 'bob@b'), 'alice')).toEqual(group(ID));
  });

  it('takes a row of the conversations list for its group, and a direct row for its partner', () => {
    const last = groupMessage(3, 'bob');
    const row: Conversation = { with: null, group: { id: ID, name: 'Trip', members_count: 4 }, last_message: last, unread: 1 };
    expect(conversationOfSummary(row)).toEqual(group(ID));
    expect(conversationOfSummary({ ...row, with: 'bob', group: null })).toEqual(direct('bob'));
  });

  it('holds a group under its id in either case', () => {
    expect(mapKey(group(ID.toUpperCase()))).toBe(mapKey(group(ID)));
  });

  it('sends to the group by `group` and to a partner by `receiver`', () => {
    expect(sendTarget(group(ID))).toEqual({ group: ID });
    expect(sendTarget(direct('bob@b'))).toEqual({ receiver: 'bob@b' });
  });

  it('shows a send to a group at once, with no receiver', () => {
    const entry = pendingSend('alice', group(ID), 'hello all');
    expect(entry.message).toMatchObject({ id: 0, sender: 'alice', receiver: null, group: ID, message: 'hello all' });
    // Its echo is taken for it, as in a direct conversation.
    const history = emptyHistory(group(ID));
    history.entries.push(entry);
    upsertMessage(history, groupMessage(12, 'alice', { message: 'hello all' }), true);
    expect(history.entries).toEqual([entry]);
    expect(entry.message.id).toBe(12);
  });

  it('counts unread group messages in its row: read state is the member\'s, never the message\'s', () => {
    const rows = new Map<ReturnType<typeof mapKey>, Row>();
    applyToRow(rows, group(ID), groupMessage(1, 'bob'), false, false);
    applyToRow(rows, group(ID), groupMessage(2, 'carol'), false, false);
    applyToRow(rows, group(ID), groupMessage(3, 'alice'), true, false);
    expect(rows.get(mapKey(group(ID)))).toMatchObject({ conversation: group(ID), last: { id: 3 }, unread: 2 });
  });
});

describe('who may do what in a group', () => {
  it('lets the owner and admins rename and add, not plain members nor strangers', () => {
    expect(['alice', 'Bob', 'carol', 'eve'].map((user) => canManage(TRIP, user))).toEqual([true, true, false, false]);
  });

  it('lets the owner remove anyone else, an admin only plain members, and nobody themself', () => {
    const [carol, alice, dave, bob] = TRIP.members as [GroupMember, GroupMember, GroupMember, GroupMember];
    expect([carol, dave, bob, alice].map((one) => canRemove(TRIP, 'alice', one))).toEqual([true, true, true, false]);
    expect([carol, dave, alice, bob].map((one) => canRemove(TRIP, 'bob', one))).toEqual([true, false, false, false]);
    expect([alice, dave, bob].map((one) => canRemove(TRIP, 'carol', one))).toEqual([false, false, false]);
  });

  it('lets only the owner change roles, and never the owner\'s own', () => {
    const [carol, alice, dave] = TRIP.members as [GroupMember, GroupMember, GroupMember];
    expect([carol, dave, alice].map((one) => canChangeRole(TRIP, 'alice', one))).toEqual([true, true, false]);
    expect(canChangeRole(TRIP, 'bob', carol)).toBe(false);
  });

  it('finds a member ignoring case, and lists the owner, the admins, then the members, each by seniority', () => {
    expect(memberOf(TRIP, 'CAROL')?.role).toBe('member');
    expect(memberOf(TRIP, 'eve')).toBeUndefined();
    expect(byRole(TRIP.members).map((one) => one.user)).toEqual(['alice', 'bob', 'dave', 'carol']);
  });
});

describe('seen by', () => {
  it('names the other members whose read marker reached the message', () => {
    expect(seenBy(TRIP, 'alice', 7)).toEqual(['carol', 'bob']);
    expect(seenBy(TRIP, 'alice', 9)).toEqual(['bob']);
    expect(seenBy(TRIP, 'alice', 10)).toEqual([]);
    // A member who never read anything has seen nothing.
    expect(seenBy({ ...TRIP, members: [member('alice', 'owner', 0), member('erin', 'member', 1)] }, 'alice', 1)).toEqual([]);
  });
});

describe('words', () => {
  it('says who is typing, one, two, three or more', () => {
    expect(typingText([])).toBe('');
    expect(typingText(['alice'])).toBe('alice is typing…');
    expect(typingText(['alice', 'bob'])).toBe('alice and bob are typing…');
    expect(typingText(['alice', 'bob', 'carol'])).toBe('alice, bob and carol are typing…');
    expect(typingText(['alice', 'bob', 'carol', 'dave', 'erin'])).toBe('alice, bob and 3 others are typing…');
  });

  it('lists names as a sentence does', () => {
    expect(listText(['bob'])).toBe('bob');
    expect(listText(['bob', 'carol'])).toBe('bob and carol');
    expect(listText(['bob', 'carol', 'dave', 'erin'])).toBe('bob, carol and 2 others');
  });

  it('reads members as written: commas, semicolons, spaces or lines between them', () => {
    expect(memberNames(' bob, carol@b;dave\n erin ,, ')).toEqual(['bob', 'carol@b', 'dave', 'erin']);
    expect(memberNames('  ')).toEqual([]);
  });
});
