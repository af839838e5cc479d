// The groups API: creating a group, its members and roles, renaming, leaving with the owner's
// hand-over, deletion when the last member leaves; bad input answered with a clear 4xx and
// nothing stored; and 404 for a group the caller is not a member of, on every path.
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { describeEachDatabase } from '../helpers/databases.js';
import { call } from '../helpers/http.js';
import { groupsSuite, type Group } from './client.js';

const MAX_MEMBERS = 4;

describeEachDatabase('groups', (database) => {
  const suite = groupsSuite(database, { GROUP_MAX_MEMBERS: String(MAX_MEMBERS) });
  const { users, count, groups } = suite;
  const roles = (group: Group) => Object.fromEntries(group.members.map((member) => [member.user, member.role]));
  const groupRows = () => count(sql`select count(*) as n from conversations where kind = 'group'`);

  describe('creating and reading', () => {
    it('creates a group with its members, the creator its owner, duplicates and the creator left out', async () => {
      const [alice, bob, carol] = await users(3);
      const created = await groups.create(alice, '  Book club  ', [bob.username, carol.username, bob.username, alice.username]);

      expect(created.status).toBe(201);
      expect(created.body).toEqual({
        id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
        name: 'Book club',
        home: suite.app.config.serverName,
        created_at: expect.any(String),
        members: expect.arrayContaining([
          { user: alice.username, role: 'owner', joined_at: created.body.created_at, read_up_to: null },
          { user: bob.username, role: 'member', joined_at: created.body.created_at, read_up_to: null },
          { user: carol.username, role: 'member', joined_at: created.body.created_at, read_up_to: null },
        ]),
      });
      expect(created.body.members).toHaveLength(3);
      for (const member of [alice, bob, carol]) {
        expect((await groups.show(member, created.body.id)).body).toEqual(created.body);
        const list = await groups.as(member, 'GET', '/accounts/groups/');
        expect(list.body.results).toEqual([{ id: created.body.id, name: 'Book club', home: suite.app.config.serverName, created_at: created.body.created_at, members_count: 3 }]);
      }
    });

    it('accepts a group id in capitals, and the paths without their trailing slash', async () => {
      const [alice, bob] = await users(2);
      const group = await groups.group(alice, 'Caps', [bob]);
      expect((await groups.show(bob, group.id.toUpperCase())).status).toBe(200);
      expect((await groups.as(bob, 'GET', `/accounts/groups/${group.id}`)).status).toBe(200);
    });
  });

  describe('members and roles', () => {
    it('lets the owner and admins rename and add; a member gets 403 forbidden and nothing changes', async () => {
      const [alice, bob, carol, dave] = await users(4);
      const group = await groups.group(alice, 'Plans', [bob, carol]);

      expect(await groups.rename(bob, group.id, 'Mine now')).toMatchObject({ status: 403, body: { code: 'forbidden' } });
      expect(await groups.add(bob, group.id, dave)).toMatchObject({ status: 403, body: { code: 'forbidden' } });
      expect((await groups.show(alice, group.id)).body).toEqual(group);

      expect((await groups.role(alice, group.id, bob, 'admin')).status).toBe(200);
      const renamed = await groups.rename(bob, group.id, 'Summer plans');
      expect(renamed).toMatchObject({ status: 200, body: { id: group.id, name: 'Summer plans' } });
      const added = await groups.add(bob, group.id, dave);
      expect(added.status).toBe(200);
      expect(roles(added.body)).toEqual({ [alice.username]: 'owner', [bob.username]: 'admin', [carol.username]: 'member', [dave.username]: 'member' });
    });

    it('adds a member once: adding them again changes nothing', async () => {
      const [alice, bob, carol] = await users(3);
      const group = await groups.group(alice, 'Once', [bob]);
      const first = await groups.add(alice, group.id, carol);
      const again = await groups.add(alice, group.id, carol.username.toUpperCase());
      expect(again).toMatchObject({ status: 200, body: first.body });
      expect(first.body.members).toHaveLength(3);
    });

    it('lets only the owner change roles, never the owner’s own', async () => {
      const [alice, bob, carol] = await users(3);
      const group = await groups.group(alice, 'Roles', [bob, carol]);
      expect(roles((await groups.role(alice, group.id, bob, 'admin')).body)).toMatchObject({ [bob.username]: 'admin' });

      expect(await groups.role(bob, group.id, carol, 'admin')).toMatchObject({ status: 403, body: { code: 'forbidden' } });
      expect(await groups.role(carol, group.id, carol, 'admin')).toMatchObject({ status: 403, body: { code: 'forbidden' } });
      expect(await groups.role(alice, group.id, alice, 'member')).toMatchObject({ status: 403, body: { code: 'forbidden' } });
      expect(await groups.role(alice, group.id, bob, 'owner')).toMatchObject({ status: 400, body: { code: 'validation_error' } });
      const [stranger] = await users(1);
      expect(await groups.role(alice, group.id, stranger!, 'admin')).toMatchObject({ status: 404, body: { code: 'not_found' } });

      expect(roles((await groups.role(alice, group.id, bob, 'member')).body)).toEqual({ [alice.username]: 'owner', [bob.username]: 'member', [carol.username]: 'member' });
    });

    it('lets an admin remove a member, but not the owner or another admin; a member removes nobody', async () => {
      const [alice, bob, carol, dave] = await users(4);
      const group = await groups.group(alice, 'Removals', [bob, carol, dave]);
      await groups.role(alice, group.id, bob, 'admin');
      await groups.role(alice, group.id, carol, 'admin');

      expect(await groups.remove(bob, group.id, alice)).toMatchObject({ status: 403, body: { code: 'forbidden' } });
      expect(await groups.remove(bob, group.id, carol)).toMatchObject({ status: 403, body: { code: 'forbidden' } });
      expect(await groups.remove(dave, group.id, bob)).toMatchObject({ status: 403, body: { code: 'forbidden' } });
      expect((await groups.remove(bob, group.id, dave)).status).toBe(204);
      expect((await groups.show(dave, group.id)).status).toBe(404);
      expect((await groups.remove(alice, group.id, carol)).status).toBe(204);
      expect(roles((await groups.show(alice, group.id)).body)).toEqual({ [alice.username]: 'owner', [bob.username]: 'admin' });
    });

    it('hands the group over when the owner leaves: to the longest-standing admin, else the longest-standing member', async () => {
      const [alice, bob, carol, dave] = await users(4);
      const group = await groups.group(alice, 'Hand-over', [bob]);
      await groups.add(alice, group.id, carol);
      await groups.add(alice, group.id, dave);
      await groups.role(alice, group.id, dave, 'admin');
      await groups.role(alice, group.id, carol, 'admin');

      expect((await groups.remove(alice, group.id, alice)).status).toBe(204);
      // carol and dave are admins; carol joined first.
      expect(roles((await groups.show(bob, group.id)).body)).toEqual({ [bob.username]: 'member', [carol.username]: 'owner', [dave.username]: 'admin' });

      expect((await groups.remove(carol, group.id, carol)).status).toBe(204);
      expect(roles((await groups.show(bob, group.id)).body)).toEqual({ [bob.username]: 'member', [dave.username]: 'owner' });
      await groups.role(dave, group.id, bob, 'member');
      expect((await groups.remove(dave, group.id, dave)).status).toBe(204);
      // No admin left: the longest-standing member.
      expect(roles((await groups.show(bob, group.id)).body)).toEqual({ [bob.username]: 'owner' });
    });

    it('deletes the group and its messages, texts erased, when the last member leaves', async () => {
      const [alice, bob] = await users(2);
      const group = await groups.group(alice, 'Short-lived', [bob]);
      await groups.sent(alice, group.id, 'soon gone');
      const messages = () => count(sql`select count(*) as n from messages m join conversations c on c.id = m.conversation_id where c.uuid = ${group.id}`);
      expect(await messages()).toBe(1);

      expect((await groups.remove(alice, group.id, alice)).status).toBe(204);
      expect((await groups.remove(bob, group.id, bob)).status).toBe(204);
      expect(await messages()).toBe(0);
      expect(await count(sql`select count(*) as n from conversations where uuid = ${group.id}`)).toBe(0);
      expect((await groups.show(bob, group.id)).status).toBe(404);
      expect((await groups.as(bob, 'GET', '/accounts/groups/')).body.results).toEqual([]);
    });
  });

  describe('bad input', () => {
    it('refuses a blank or too long name, unknown members (naming them), too many members and a peer’s user, storing nothing', async () => {
      const [alice, bob] = await users(2);
      const before = await groupRows();

      expect(await groups.create(alice, '   ', [bob])).toMatchObject({ status: 400, body: { code: 'validation_error', fields: { name: [expect.any(String)] } } });
      expect(await groups.create(alice, 'x'.repeat(101), [bob])).toMatchObject({ status: 400, body: { fields: { name: [expect.any(String)] } } });
      expect((await groups.create(alice, '🎲'.repeat(100), [bob])).status).toBe(201);
      const unknown = await groups.create(alice, 'Ghosts', [bob.username, 'nobody-1', 'nobody-2']);
      expect(unknown).toMatchObject({ status: 400, body: { code: 'validation_error' } });
      expect(unknown.body.fields.members).toEqual([expect.stringContaining('nobody-1'), expect.stringContaining('nobody-2')]);
      const others = await users(MAX_MEMBERS);
      const tooMany = await groups.create(alice, 'Crowd', others);
      expect(tooMany).toMatchObject({ status: 400, body: { code: 'validation_error', fields: { members: [expect.stringContaining(String(MAX_MEMBERS))] } } });
      expect((await groups.create(alice, 'Just enough', others.slice(1))).status).toBe(201);
      expect(await groups.create(alice, 'Federated', ['bob@elsewhere'])).toMatchObject({ status: 400, body: { fields: { members: [expect.any(String)] } } });
      expect(await groups.as(alice, 'POST', '/accounts/groups/', { name: 'No list' })).toMatchObject({ status: 400, body: { code: 'validation_error' } });
      // A bad entry is named under `members`, with its place in the list.
      expect(await groups.as(alice, 'POST', '/accounts/groups/', { name: 'A list of lists', members: [bob.username, [bob.username]] })).toMatchObject({
        status: 400,
        body: { code: 'validation_error', fields: { members: ['Item 2: Must be of type string.'] } },
      });
      // Lengths count after NFKC: 51 "ﬀ" ligatures are 102 characters.
      expect(await groups.create(alice, 'ﬀ'.repeat(51), [bob])).toMatchObject({ status: 400, body: { fields: { name: [expect.any(String)] } } });

      expect(await groupRows()).toBe(before + 2);
    });

    it('refuses adding an unknown user or past GROUP_MAX_MEMBERS with 400, storing nothing', async () => {
      const [alice, bob, carol, dave, erin] = await users(5);
      const group = await groups.group(alice, 'Full', [bob, carol]);
      expect(await groups.add(alice, group.id, 'nobody-3')).toMatchObject({ status: 400, body: { code: 'validation_error', fields: { user: [expect.any(String)] } } });
      expect((await groups.add(alice, group.id, dave)).status).toBe(200);
      expect(await groups.add(alice, group.id, erin)).toMatchObject({ status: 400, body: { code: 'validation_error', fields: { user: [expect.any(String)] } } });
      expect((await groups.show(alice, group.id)).body.members).toHaveLength(MAX_MEMBERS);
      expect((await groups.show(erin, group.id)).status).toBe(404);
    });

    it('answers 400 when a send names both a receiver and a group, or neither, storing nothing', async () => {
      const [alice, bob] = await users(2);
      const group = await groups.group(alice, 'Either', [bob]);
      const before = await count(sql`select count(*) as n from messages`);
      for (const path of ['/accounts/send-message/', '/accounts/messages/']) {
        const both = await groups.as(alice, 'POST', path, { message: 'hi', receiver: bob.username, group: group.id });
        expect(both).toMatchObject({ status: 400, body: { code: 'validation_error' } });
        const neither = await groups.as(alice, 'POST', path, { message: 'hi' });
        expect(neither).toMatchObject({ status: 400, body: { code: 'validation_error', fields: { receiver: ['This field is required.'] } } });
        const nulls = await groups.as(alice, 'POST', path, { message: 'hi', receiver: null, group: null });
        expect(nulls).toMatchObject({ status: 400, body: { code: 'validation_error', fields: { receiver: ['This field is required.'] } } });
      }
      expect(await count(sql`select count(*) as n from messages`)).toBe(before);
    });

    it('takes a null receiver or group (as a Message shows the one it has not) as not given', async () => {
      const [alice, bob] = await users(2);
      const group = await groups.group(alice, 'Nulls', [bob]);
      for (const path of ['/accounts/send-message/', '/accounts/messages/']) {
        expect((await groups.as(alice, 'POST', path, { message: 'to the group', receiver: null, group: group.id })).status).toBe(201);
        expect((await groups.as(alice, 'POST', path, { message: 'to bob', receiver: bob.username, group: null })).status).toBe(201);
      }
    });
  });

  describe('a non-member', () => {
    it('gets 404 not_found on every path of a group, as for a group id that is not a uuid or names no group', async () => {
      const [alice, bob, dave] = await users(3);
      const group = await groups.group(alice, 'Private', [bob]);
      const id = await groups.sent(alice, group.id, 'members only');
      const before = await count(sql`select count(*) as n from messages`);

      for (const groupId of [group.id, 'not-a-uuid', '0190c3b4-1d2e-7f00-8000-000000000000']) {
        const paths: [string, string, unknown?][] = [
          ['GET', `/accounts/groups/${groupId}/`],
          ['PATCH', `/accounts/groups/${groupId}/`, { name: 'Taken over' }],
          ['POST', `/accounts/groups/${groupId}/members/`, { user: dave.username }],
          ['PATCH', `/accounts/groups/${groupId}/members/${bob.username}/`, { role: 'admin' }],
          ['DELETE', `/accounts/groups/${groupId}/members/${bob.username}/`],
          ['DELETE', `/accounts/groups/${groupId}/members/${dave.username}/`],
          ['POST', '/accounts/send-message/', { message: 'let me in', group: groupId }],
          ['POST', '/accounts/messages/', { message: 'let me in', group: groupId }],
          ['GET', `/accounts/messages/?group=${groupId}`],
        ];
        for (const [method, path, body] of paths) {
          expect(await call(suite.app.url, method, path, body, { token: dave.token }), `${method} ${path}`).toMatchObject({ status: 404, body: { code: 'not_found' } });
        }
      }
      for (const [method, path, body] of [
        ['POST', `/accounts/messages/${id}/read/`],
        ['PATCH', `/accounts/messages/${id}/`, { message: 'changed' }],
        ['DELETE', `/accounts/messages/${id}/`],
      ] as [string, string, unknown?][]) {
        expect(await call(suite.app.url, method, path, body, { token: dave.token }), `${method} ${path}`).toMatchObject({ status: 404, body: { code: 'not_found' } });
      }
      expect((await groups.as(dave, 'GET', '/accounts/messages/?after=0')).body.results).toEqual([]);
      expect((await groups.as(dave, 'GET', '/accounts/events/?after=0')).body.results).toEqual([]);
      expect((await groups.conversations(dave)).body.results).toEqual([]);
      expect((await groups.as(dave, 'GET', '/accounts/groups/')).body.results).toEqual([]);

      expect(await count(sql`select count(*) as n from messages`)).toBe(before);
      expect((await groups.show(alice, group.id)).body).toEqual({ ...group, members: expect.any(Array) });
      expect((await groups.history(alice, group.id)).body.results.map((message: { message: string }) => message.message)).toEqual(['members only']);
    });
  });
});
