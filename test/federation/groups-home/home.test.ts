// A group's home applies what members' backends send it (groups.md, "Groups across backends"):
// `group_post` (messages, edits, deletes, reads) and `group_request` (add, remove, role, rename)
// from fake members b and c as signed transactions, with the trust checks first and then the
// rules of a local request; what it applies goes back to every backend with members.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { newKey } from '../../helpers/app.js';
import { describeEachDatabase } from '../../helpers/databases.js';
import { call } from '../../helpers/http.js';
import { type GroupMessage } from '../../groups/client.js';
import { homeSuite, statuses, summary } from './fake-member.js';

describeEachDatabase('a group’s home and its members’ backends', (database) => {
  const suite = homeSuite(database, [{ name: 'o', url: 'http://127.0.0.1:9', key: newKey(), compat: true, token: 'original' }]);
  const { groups } = suite;

  async function newGroup(members = ['bob@b', 'carol@c']): Promise<string> {
    const created = await groups.create(suite.alice, 'trip', members);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    return created.body.id as string;
  }

  async function texts(group: string): Promise<[string, string, boolean][]> {
    const history = await groups.history(suite.alice, group, '&limit=100');
    expect(history.status).toBe(200);
    return (history.body.results as GroupMessage[]).map((message): [string, string, boolean] => [message.sender, message.message, message.deleted]).reverse();
  }

  const makeAdmin = async (group: string, user: string) =>
    expect((await call(suite.a.url, 'PATCH', `/accounts/groups/${group}/members/${user}/`, { role: 'admin' }, { token: suite.alice.token })).status).toBe(200);

  it('takes members of any non-compat peer, and refuses a compat peer’s users', async () => {
    const refused = await groups.create(suite.alice, 'mixed', ['bob@b', 'zed@o']);
    expect(refused.status).toBe(400);
    expect(refused.body.fields.members).toEqual([expect.stringContaining('zed@o')]);
    const group = await newGroup(['bob@b']);
    const added = await groups.add(suite.alice, group, 'zed@o');
    expect(added.status).toBe(400);
    expect(added.body.fields.user).toEqual([expect.stringContaining('zed@o')]);
    expect((await groups.add(suite.alice, group, 'carol@c')).body.members.map((member: { user: string }) => member.user)).toEqual(['alice', 'bob@b', 'carol@c']);
  });

  describe('group_post', () => {
    it('stores a member’s message once, by item and by uuid, and sends it in the home’s order to every backend with members, the poster’s included', async () => {
      const group = await newGroup();
      const socket = await suite.connect(suite.alice);
      const post = suite.b.post(group, { sender: 'bob', text: 'hello from b' });
      expect(statuses(await suite.b.send([post]))).toEqual([[200, undefined]]);
      expect(await socket.next((frame) => frame.type === 'message')).toMatchObject({ message: { sender: 'bob@b', message: 'hello from b', group } });
      // The same item again, and another item with the same message: stored once.
      expect(statuses(await suite.b.send([post, { ...post, id: randomUUID() }]))).toEqual([
        [200, undefined],
        [200, undefined],
      ]);
      expect(await texts(group)).toEqual([['bob@b', 'hello from b', false]]);
      const [stored] = (await groups.history(suite.alice, group)).body.results as GroupMessage[];
      for (const member of [suite.b, suite.c]) {
        const items = await member.waitFor((received) => summary(received, group).includes('message bob@b "hello from b"'), 'the post, ordered');
        expect(items.find((item) => item.type === 'group_message' && item.group === group)).toMatchObject({ message: post.message, position: stored!.id });
      }
    });

    it('applies edits and deletes with the local rules: one’s own, and anyone’s by the owner and admins', async () => {
      const group = await newGroup();
      const mine = suite.b.post(group, { sender: 'bob', text: 'typo' });
      await suite.b.send([mine]);
      await groups.sent(suite.alice, group, 'alice’s');
      // Members' backends know a message by its uuid, as the home sent it.
      const ordered = await suite.b.waitFor((items) => summary(items, group).includes('message alice@a "alice’s"'), 'alice’s message');
      const theirs = ordered.flatMap((item) => (item.type === 'group_message' && item.group === group && item.sender === 'alice@a' ? [item.message] : []))[0]!;
      expect(
        statuses(
          await suite.b.send([
            suite.b.post(group, { sender: 'bob', kind: 'edit', message: mine.message as string, text: 'fixed' }),
            suite.b.post(group, { sender: 'bob', kind: 'edit', message: theirs, text: 'not mine' }),
            suite.b.post(group, { sender: 'bob', kind: 'delete', message: theirs }),
            suite.b.post(group, { sender: 'bob', kind: 'edit', message: mine.message as string, text: '   ' }),
            suite.b.post(group, { sender: 'bob', kind: 'edit', message: randomUUID(), text: 'nothing' }),
          ]),
        ),
      ).toEqual([
        [200, undefined],
        [403, 'forbidden'],
        [403, 'forbidden'],
        [400, 'validation_error'],
        [404, 'not_found'],
      ]);
      await makeAdmin(group, 'bob@b');
      expect(statuses(await suite.b.send([suite.b.post(group, { sender: 'bob', kind: 'delete', message: theirs })]))).toEqual([[200, undefined]]);
      expect(await texts(group)).toEqual([
        ['bob@b', 'fixed', false],
        ['alice', '', true],
      ]);
      await suite.c.waitFor((items) => summary(items, group).includes('delete bob@b'), 'the moderated delete');
      expect(summary(suite.c.received, group).filter((line) => !line.startsWith('state'))).toEqual(['message bob@b "typo"', 'message alice@a "alice’s"', 'edit bob@b "fixed"', 'delete bob@b']);
    });

    it('moves a member’s read marker forward, never back', async () => {
      const group = await newGroup();
      const first = await groups.sent(suite.alice, group, 'one');
      const second = await groups.sent(suite.alice, group, 'two');
      const ordered = await suite.b.waitFor((items) => summary(items, group).includes('message alice@a "two"'), 'both messages');
      const uuids = ordered.flatMap((item) => (item.type === 'group_message' && item.group === group ? [item.message] : []));
      expect(statuses(await suite.b.send([suite.b.post(group, { sender: 'bob', kind: 'read', message: uuids[1]! }), suite.b.post(group, { sender: 'bob', kind: 'read', message: uuids[0]! })]))).toEqual([
        [200, undefined],
        [200, undefined],
      ]);
      const bob = (await groups.show(suite.alice, group)).body.members.find((member: { user: string }) => member.user === 'bob@b');
      expect(bob.read_up_to).toBe(second);
      expect(first).toBeLessThan(second);
      await suite.c.waitFor((items) => summary(items, group).includes('read bob@b'), 'the read');
      expect(summary(suite.c.received, group).filter((line) => line.startsWith('read'))).toEqual(['read bob@b']);
    });

    it('refuses, per item and applying nothing, a group that is not the home’s, a sender who is no member, and a peer speaking for another’s user', async () => {
      const group = await newGroup();
      const results = await suite.b.send([
        suite.b.post(randomUUID(), { sender: 'bob', text: 'no such group' }),
        suite.b.post(group, { sender: 'eve', text: 'not a member' }),
        suite.b.post(group, { sender: 'bob@b', text: 'not a name of b' }),
        suite.b.post(group, { sender: 'bob', text: 'fine' }),
      ]);
      expect(statuses(results)).toEqual([
        [404, 'not_found'],
        [403, 'forbidden'],
        [400, 'validation_error'],
        [200, undefined],
      ]);
      expect(statuses(await suite.c.send([suite.c.post(group, { sender: 'bob', text: 'c is not b' })]))).toEqual([[403, 'forbidden']]);
      expect(await texts(group)).toEqual([['bob@b', 'fine', false]]);
    });
  });

  describe('group_request', () => {
    it('applies a member’s requests with the local rules, answering the version after each, and a repeat with its first answer', async () => {
      const group = await newGroup();
      const rename = suite.b.request(group, { sender: 'bob', action: 'rename', name: 'bob’s trip' });
      expect(statuses(await suite.b.send([rename, suite.b.request(group, { sender: 'bob', action: 'add', user: 'dave@a' })]))).toEqual([
        [403, 'forbidden'],
        [403, 'forbidden'],
      ]);
      await makeAdmin(group, 'bob@b');
      const renamed = suite.b.request(group, { sender: 'bob', action: 'rename', name: 'bob’s trip' });
      const [first] = await suite.b.send([renamed]);
      expect(first).toMatchObject({ status: 200, version: expect.any(Number) });
      expect((await groups.show(suite.alice, group)).body.name).toBe('bob’s trip');
      expect(
        statuses(
          await suite.b.send([
            suite.b.request(group, { sender: 'bob', action: 'add', user: 'zed@o' }),
            suite.b.request(group, { sender: 'bob', action: 'add', user: 'zed@z' }),
            suite.b.request(group, { sender: 'bob', action: 'role', user: 'carol@c', role: 'admin' }),
            suite.b.request(group, { sender: 'bob', action: 'remove', user: 'alice@a' }),
            // What a client could not send either (groups.md): a name with a control character.
            suite.b.request(group, { sender: 'bob', action: 'rename', name: 'ring\u0007' }),
          ]),
        ),
      ).toEqual([
        [400, 'validation_error'],
        [400, 'validation_error'],
        [403, 'forbidden'],
        [403, 'forbidden'],
        [400, 'validation_error'],
      ]);
      expect((await groups.show(suite.alice, group)).body.name).toBe('bob’s trip');
      const [added] = await suite.b.send([suite.b.request(group, { sender: 'bob', action: 'add', user: 'dave@a' })]);
      expect(added).toMatchObject({ status: 200, version: first!.version! + 1 });
      expect((await groups.show(suite.dave, group)).status).toBe(200);
      // The rename again, after the add: its first answer, not a new one.
      expect(await suite.b.send([renamed])).toEqual([{ id: renamed.id, status: 200, version: first!.version }]);
      const leave = suite.b.request(group, { sender: 'bob', action: 'remove', user: 'bob@b' });
      const [left] = await suite.b.send([leave]);
      expect(left).toMatchObject({ status: 200, version: added!.version! + 1 });
      expect(statuses(await suite.b.send([suite.b.post(group, { sender: 'bob', text: 'gone' })]))).toEqual([[403, 'forbidden']]);
      // b had a member before the last change: it hears of it (and drops its copy).
      await suite.b.waitFor((items) => items.some((item) => item.type === 'group_state' && item.group === group && item.version === left!.version), 'the last state');
      expect(suite.b.received.filter((item) => item.type === 'group_state' && item.group === group).at(-1)).toMatchObject({
        version: left!.version,
        name: 'bob’s trip',
        members: [{ user: 'alice@a' }, { user: 'carol@c' }, { user: 'dave@a' }],
      });
      // The leave again once the home has restarted (b never had its answer, say): the first answer, kept with the home's receipts.
      suite.a = await suite.a.restart();
      expect(await suite.b.send([leave])).toEqual([{ id: leave.id, status: 200, version: left!.version }]);
      expect((await groups.show(suite.alice, group)).body.members.map((member: { user: string }) => member.user)).toEqual(['alice', 'carol@c', 'dave']);
    });
  });

  describe('typing in a group', () => {
    it('passes a member’s indicator to the home’s members and relays it to the other backends with members', async () => {
      const group = await newGroup();
      const socket = await suite.connect(suite.alice);
      expect(statuses(await suite.b.send([{ type: 'typing', id: randomUUID(), from: 'bob', group }]))).toEqual([[200, undefined]]);
      expect(await socket.next((frame) => frame.type === 'typing')).toMatchObject({ type: 'typing', from: 'bob@b', group });
      const relayed = await suite.c.waitFor((items) => items.some((item) => item.type === 'typing' && 'group' in item && item.group === group), 'the indicator');
      expect(relayed.find((item) => item.type === 'typing' && 'group' in item && item.group === group)).toMatchObject({ from: 'bob@b' });
      expect(suite.b.received.some((item) => item.type === 'typing' && 'group' in item && item.group === group)).toBe(false);
    });

    it('relays a home member’s indicator to every backend with members, the member named with the home’s server', async () => {
      const group = await newGroup();
      const socket = await suite.connect(suite.alice);
      socket.send({ type: 'typing', group });
      for (const member of [suite.b, suite.c]) {
        const items = await member.waitFor((received) => received.some((item) => item.type === 'typing' && 'group' in item && item.group === group), 'the indicator');
        expect(items.find((item) => item.type === 'typing' && 'group' in item && item.group === group)).toMatchObject({ from: 'alice@a' });
      }
    });
  });
});
