// The home's outbox carries its groups' items (groups.md, "Groups across backends"): every change
// of a group as a `group_state` to every backend with members before or after it, and every
// message, edit, delete and read as a `group_message`, in the home's order per group and backend.
import { describe, expect, it } from 'vitest';
import { describeEachDatabase } from '../../helpers/databases.js';
import { call } from '../../helpers/http.js';
import { homeSuite, summary } from './fake-member.js';

describeEachDatabase('the outbox of a group’s home', (database) => {
  const suite = homeSuite(database);
  const { groups } = suite;

  it('sends each group item kind in order to every backend with members, and stops when a backend has none left', async () => {
    const { a, b, c, alice, dave } = suite;
    const created = await groups.create(alice, 'trip', ['bob@b', 'carol@c', 'dave']);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const group = created.body.id as string;
    expect(created.body.members.map((member: { user: string }) => member.user)).toEqual(['alice', 'bob@b', 'carol@c', 'dave']);

    const one = await groups.sent(alice, group, 'one');
    const two = await groups.sent(dave, group, 'two');
    expect((await call(a.url, 'PATCH', `/accounts/messages/${one}/`, { message: 'one, edited' }, { token: alice.token })).status).toBe(200);
    expect((await call(a.url, 'DELETE', `/accounts/messages/${two}/`, undefined, { token: alice.token })).status).toBe(204);
    expect((await call(a.url, 'POST', `/accounts/messages/${one}/read/`, undefined, { token: dave.token })).status).toBe(200);
    expect((await groups.rename(alice, group, 'trip 2')).status).toBe(200);
    expect((await call(a.url, 'DELETE', `/accounts/groups/${group}/members/carol@c/`, undefined, { token: alice.token })).status).toBe(204);
    await groups.sent(alice, group, 'three');

    const everyone = 'alice@a,bob@b,carol@c,dave@a';
    const before = [
      `state v1 ${everyone}`,
      'message alice@a "one"',
      'message dave@a "two"',
      'edit alice@a "one, edited"',
      'delete alice@a',
      'read dave@a',
      `state v2 ${everyone}`,
      'state v3 alice@a,bob@b,dave@a',
    ];
    await b.waitFor((items) => summary(items, group).length === before.length + 1, 'every item');
    expect(summary(b.received, group)).toEqual([...before, 'message alice@a "three"']);
    // c had a member before the last change: it hears of it, and of nothing after.
    await c.waitFor((items) => summary(items, group).length === before.length, 'the state without carol');
    expect(summary(c.received, group)).toEqual(before);

    const messages = b.received.filter((item) => item.type === 'group_message' && item.group === group && item.kind === 'message');
    expect(messages.map((item) => item.type === 'group_message' && item.position)).toEqual([one, two, expect.any(Number)]);
    // One group's items to one backend travel on one line, each under its own id.
    expect(new Set(b.received.map((item) => item.id)).size).toBe(b.received.length);
  });

  it('hands the group to a remote member when the owner leaves, and sends its last state, with no members, once that member leaves too', async () => {
    const { a, b, c, alice } = suite;
    const group = (await groups.create(alice, 'short', ['bob@b'])).body.id as string;
    await b.waitFor((items) => summary(items, group).length === 1, 'the first state');
    expect((await call(a.url, 'DELETE', `/accounts/groups/${group}/members/alice/`, undefined, { token: alice.token })).status).toBe(204);
    await b.waitFor((items) => summary(items, group).length === 2, 'the hand-over');
    const handedOver = b.received.filter((item) => item.type === 'group_state' && item.group === group).at(-1);
    // Removing the owner and handing over move the version twice.
    expect(handedOver).toMatchObject({ version: 3, members: [{ user: 'bob@b', role: 'owner' }] });
    const [left] = await b.send([b.request(group, { sender: 'bob', action: 'remove', user: 'bob@b' })]);
    expect(left).toMatchObject({ status: 200, version: 4 });
    await b.waitFor((items) => summary(items, group).length === 3, 'the group’s end');
    expect(summary(b.received, group)).toEqual(['state v1 alice@a,bob@b', 'state v3 bob@b', 'state v4 ']);
    expect(summary(c.received, group)).toEqual([]);
    expect((await groups.show(alice, group)).status).toBe(404);
  });

  it('keeps a group’s line waiting while a backend refuses the whole transaction, then sends it in order', async () => {
    const { b, alice } = suite;
    const group = (await groups.create(alice, 'later', ['bob@b'])).body.id as string;
    await b.waitFor((items) => summary(items, group).length === 1, 'the first state');
    b.answer = () => ({ status: 503 });
    await groups.sent(alice, group, 'first');
    await groups.sent(alice, group, 'second');
    expect((await groups.rename(alice, group, 'later 2')).status).toBe(200);
    b.answer = () => ({ status: 200 });
    await b.waitFor((items) => summary(items, group).length === 4, 'the items behind the fault');
    expect(summary(b.received, group)).toEqual(['state v1 alice@a,bob@b', 'message alice@a "first"', 'message alice@a "second"', 'state v2 alice@a,bob@b']);
  });

  it('ends an item its backend refuses (logged, failed) and sends the ones behind it', async () => {
    const { b, alice } = suite;
    const group = (await groups.create(alice, 'picky', ['bob@b'])).body.id as string;
    b.answer = (item) => (item.type === 'group_message' && item.text === 'refused' ? { status: 403, code: 'forbidden' } : { status: 200 });
    await groups.sent(alice, group, 'refused');
    await groups.sent(alice, group, 'taken');
    await b.waitFor((items) => summary(items, group).includes('message alice@a "taken"'), 'the item behind the refused one');
    b.answer = () => ({ status: 200 });
    expect(summary(b.received, group)).toEqual(['state v1 alice@a,bob@b', 'message alice@a "refused"', 'message alice@a "taken"']);
  });

  describe('members', () => {
    it('refuses a member of a backend the home does not know', async () => {
      const { alice } = suite;
      const refused = await groups.create(alice, 'nope', ['bob@z']);
      expect(refused.status).toBe(400);
      expect(refused.body.code).toBe('validation_error');
      expect(refused.body.fields.members).toEqual([expect.stringContaining('bob@z')]);
    });
  });
});
