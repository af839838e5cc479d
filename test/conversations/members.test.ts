// Member keys and direct keys: the one place stored identities are made, so their edge cases
// (folding, compat peers' exact names, a conversation with oneself) are pinned here.
import { describe, expect, it } from 'vitest';
import { addressOf, directKey, localMember, memberKey, nameOf, remoteMember } from '../../src/conversations/members.js';

const alice = localMember({ id: 1, username: 'alice' });
const b = { name: 'b', compat: false };
const old = { name: 'old', compat: true };

describe('member keys', () => {
  it('keys a local user by id and a peer\'s user by folded name and peer', () => {
    expect(memberKey(alice)).toBe('u:1');
    expect(memberKey(remoteMember(b, 'Bob'))).toBe('r:bob@b');
    expect(memberKey(remoteMember(b, 'ｂob'))).toBe(memberKey(remoteMember(b, 'bob')));
  });

  it('keeps a compat peer\'s names exactly, as the original backend tells them apart', () => {
    expect(memberKey(remoteMember(old, 'Zed'))).toBe('r:Zed@old');
    expect(memberKey(remoteMember(old, 'Zed'))).not.toBe(memberKey(remoteMember(old, 'zed')));
  });

  it('shows a member by address and knows their name on their own backend', () => {
    expect([addressOf(alice), nameOf(alice)]).toEqual(['alice', 'alice']);
    expect([addressOf(remoteMember(b, 'Bob')), nameOf(remoteMember(b, 'Bob'))]).toEqual(['Bob@b', 'Bob']);
  });
});

describe('direct keys', () => {
  it('is the same whichever side sent', () => {
    const bob = remoteMember(b, 'bob');
    expect(directKey(alice, bob)).toBe(directKey(bob, alice));
    expect(directKey(alice, bob)).toBe('r:bob@b|u:1');
  });

  it('orders local ids as text, the same as every stored key', () => {
    const twelve = localMember({ id: 12, username: 'twelve' });
    expect(directKey(twelve, alice)).toBe('u:1|u:12');
  });

  it('names a conversation with oneself by the one member twice', () => {
    expect(directKey(alice, alice)).toBe('u:1|u:1');
  });
});
