// The pure rules of a group's membership: names, who may remove whom, who inherits the group.
import { describe, expect, it } from 'vitest';
import { isGroupId } from '../../src/conversations/members.js';
import { checkGroupName, mayManage, mayRemove, nextOwner } from '../../src/groups/rules.js';
import { ValidationFailed } from '../../src/http/errors.js';

describe('a group’s name', () => {
  it('is trimmed, and 1 to 100 characters counted as code points', () => {
    expect(checkGroupName('  Book club \n')).toBe('Book club');
    expect(checkGroupName('🎲'.repeat(100))).toBe('🎲'.repeat(100));
    expect(checkGroupName('x'.repeat(100))).toHaveLength(100);
  });

  it('refuses a blank name and one over 100 characters, naming the field', () => {
    for (const name of ['', '   ', '\n\t', 'x'.repeat(101), '🎲'.repeat(101)]) {
      expect(() => checkGroupName(name)).toThrow(ValidationFailed);
      try {
        checkGroupName(name);
      } catch (error) {
        expect((error as ValidationFailed).fields).toEqual({ name: [expect.any(String)] });
      }
    }
  });
});

describe('removing a member', () => {
  it('is for the owner on anyone, for an admin on plain members only, for a plain member on nobody', () => {
    expect([mayRemove('owner', 'admin'), mayRemove('owner', 'member')]).toEqual([true, true]);
    expect([mayRemove('admin', 'member'), mayRemove('admin', 'admin'), mayRemove('admin', 'owner')]).toEqual([true, false, false]);
    expect([mayRemove('member', 'member'), mayRemove('member', 'admin'), mayRemove('member', 'owner')]).toEqual([false, false, false]);
  });

  it('lets the owner and admins manage the group, not plain members', () => {
    expect([mayManage('owner'), mayManage('admin'), mayManage('member')]).toEqual([true, true, false]);
  });
});

describe('the next owner', () => {
  const member = (name: string, role: 'admin' | 'member') => ({ name, role });

  it('is the longest-standing admin, even behind longer-standing members', () => {
    expect(nextOwner([member('bob', 'member'), member('carol', 'admin'), member('dave', 'admin')])?.name).toBe('carol');
  });

  it('is the longest-standing member when there is no admin, and nobody when nobody remains', () => {
    expect(nextOwner([member('bob', 'member'), member('carol', 'member')])?.name).toBe('bob');
    expect(nextOwner([])).toBeUndefined();
  });
});

describe('a group id', () => {
  it('is a uuid in either case; anything else names no group', () => {
    expect(isGroupId('0190c3b4-1d2e-7f00-8000-000000000000')).toBe(true);
    expect(isGroupId('0190C3B4-1D2E-7F00-8000-00000000000A')).toBe(true);
    for (const text of ['', 'bob', '0190c3b4-1d2e-7f00-8000-00000000000', '0190c3b4-1d2e-7f00-8000-000000000000 ', '0190c3b41d2e7f008000000000000000', 'g190c3b4-1d2e-7f00-8000-000000000000']) {
      expect(isGroupId(text), text).toBe(false);
    }
  });
});
