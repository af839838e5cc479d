// Where a group's message events go across backends, as the pure module decides: at the home, a
// `group_message` to every other backend with members; on a member's backend, a `group_post` to
// the home for its own users' events, and nothing for what the home sent.
import { describe, expect, it } from 'vitest';
import { conversationId, type Member } from '../../src/conversations/members.js';
import { distinctServers, groupEventEntries, qualifiedAddress } from '../../src/messages/group-federation.js';

const uuid = '0190f3a4-5b6c-7d8e-9f01-23456789abcd';
const alice: Member = { kind: 'local', userId: 1, username: 'alice' };
const bob: Member = { kind: 'remote', server: 'b', name: 'bob', compat: false };
const message = { id: 42, uuid: '0190f3a4-5b6c-7d8e-9f01-000000000042' };
const at = Date.UTC(2026, 10, 30, 3, 0, 0);
let next = 0;
const site = { serverName: 'a', newId: () => `id-${++next}` };

describe('groupEventEntries', () => {
  it('at the home, sends a message to each other backend with members once, in the home’s order, the poster’s backend included', () => {
    const home = { id: conversationId(7), uuid, home: null };
    const entries = groupEventEntries(home, ['b', 'C', 'c', 'B'], { kind: 'message', message, actor: bob, at }, site);
    expect(entries.map((entry) => entry.server)).toEqual(['b', 'C']);
    expect(entries[0]).toMatchObject({
      messageId: 42,
      conversationId: 7,
      receiverKey: `g:${uuid}`,
      group: { type: 'group_message', fields: { group: uuid, kind: 'message', message: message.uuid, sender: 'bob@b', position: 42, timestamp: '2026-11-30T03:00:00.000Z' } },
    });
    expect(entries[0]!.id).not.toBe(entries[1]!.id);
  });

  it('at the home, names a local actor with the home’s server name, and gives a position to new messages only', () => {
    const home = { id: conversationId(7), uuid, home: null };
    const [read] = groupEventEntries(home, ['b'], { kind: 'read', message, actor: alice, at }, site);
    expect(read!.group).toEqual({ type: 'group_message', fields: { group: uuid, kind: 'read', message: message.uuid, sender: 'alice@a', timestamp: '2026-11-30T03:00:00.000Z' } });
    expect(groupEventEntries(home, [], { kind: 'edit', message, actor: alice, at }, site)).toEqual([]);
  });

  it('on a member’s backend, posts its own user’s event to the home alone, and nothing for another backend’s user', () => {
    const copy = { id: conversationId(9), uuid, home: 'h' };
    const entries = groupEventEntries(copy, ['h', 'b', 'c'], { kind: 'delete', message, actor: alice, at }, site);
    expect(entries).toEqual([
      {
        messageId: 42,
        conversationId: 9,
        receiverKey: `g:${uuid}`,
        server: 'h',
        id: expect.any(String),
        group: { type: 'group_post', fields: { group: uuid, kind: 'delete', sender: 'alice', message: message.uuid, timestamp: '2026-11-30T03:00:00.000Z' } },
      },
    ]);
    expect(groupEventEntries(copy, ['h'], { kind: 'message', message, actor: bob, at }, site)).toEqual([]);
  });
});

describe('addresses of group items', () => {
  it('qualifies every member with their backend, and counts each backend once whatever its case', () => {
    expect(qualifiedAddress(alice, 'a')).toBe('alice@a');
    expect(qualifiedAddress(bob, 'a')).toBe('bob@b');
    expect(distinctServers(['b', 'B', 'c'])).toEqual(['b', 'c']);
  });
});
