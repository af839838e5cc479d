// Messages in groups over HTTP: stored once whatever the number of members, each member's history
// and conversations list, client ids, read markers and unread counts per member, edits and
// moderated deletes, and the end of access for a member who was removed.
import { sql } from 'kysely';
import { expect, it } from 'vitest';
import { describeEachDatabase } from '../helpers/databases.js';
import type { RegisteredUser } from '../helpers/http.js';
import { groupsSuite, type Group, type GroupMessage } from './client.js';

describeEachDatabase('messages in groups', (database) => {
  const { users, count, groups } = groupsSuite(database);
  const history = async (user: RegisteredUser, group: Group): Promise<GroupMessage[]> => {
    const response = await groups.history(user, group.id);
    expect(response.status).toBe(200);
    return response.body.results as GroupMessage[];
  };
  const rowOf = async (user: RegisteredUser, group: Group) => {
    const rows = (await groups.conversations(user)).body.results as { with: string | null; group: { id: string } | null; unread: number; last_message: GroupMessage }[];
    return rows.find((row) => row.group?.id === group.id);
  };
  const unread = async (user: RegisteredUser, group: Group) => (await rowOf(user, group))?.unread;

  it('shows each member every message, newest first, and the group in their conversations list with its own unread count', async () => {
    const [alice, bob, carol] = await users(3);
    const group = await groups.group(alice, 'Trip', [bob, carol]);
    const sent = await groups.send(alice, group.id, '  Who brings the tent?  ');
    expect(sent.body).toEqual({ message: 'Message sent successfully', id: expect.any(Number), status: 'delivered', timestamp: expect.any(String) });
    const second = await groups.sent(bob, group.id, 'I do');
    const third = await groups.sent(alice, group.id, 'Great');

    const expected = {
      id: sent.body.id,
      sender: alice.username,
      receiver: null,
      group: group.id,
      message: 'Who brings the tent?',
      timestamp: sent.body.timestamp,
      status: 'delivered',
      read_at: null,
      edited_at: null,
      deleted: false,
    };
    for (const member of [alice, bob, carol]) {
      const messages = await history(member, group);
      expect(messages.map((message) => message.id)).toEqual([third, second, sent.body.id]);
      expect(messages[2]).toEqual(expected);
    }
    const page = await groups.history(carol, group.id, '&limit=2');
    expect(page.body.results).toHaveLength(2);
    const rest = await groups.history(carol, group.id, `&before=${page.body.next}`);
    expect(rest.body).toEqual({ results: [expected], next: null });

    expect(await rowOf(alice, group)).toEqual({ with: null, group: { id: group.id, name: 'Trip', members_count: 3 }, last_message: expect.objectContaining({ id: third }), unread: 1 });
    expect(await unread(bob, group)).toBe(2);
    expect(await unread(carol, group)).toBe(3);
  });

  it('gives direct rows a null group, and lists groups and partners together, most recent first', async () => {
    const [alice, bob] = await users(2);
    const group = await groups.group(alice, 'Mixed', [bob]);
    await groups.sent(bob, group.id, 'in the group');
    expect((await groups.as(bob, 'POST', '/accounts/send-message/', { message: 'just us', receiver: alice.username })).status).toBe(201);
    const rows = (await groups.conversations(alice)).body.results;
    expect(rows).toEqual([
      { with: bob.username, group: null, last_message: expect.objectContaining({ message: 'just us', receiver: alice.username, group: null }), unread: 1 },
      { with: null, group: { id: group.id, name: 'Mixed', members_count: 2 }, last_message: expect.objectContaining({ message: 'in the group' }), unread: 1 },
    ]);
  });

  it('stores a group message once, whatever the number of members', async () => {
    const [alice, ...others] = await users(6);
    const group = await groups.group(alice!, 'Six', others);
    const [messagesBefore, eventsBefore] = [await count(sql`select count(*) as n from messages`), await count(sql`select count(*) as n from events`)];

    for (const text of ['one', 'two', 'three']) await groups.sent(alice!, group.id, text);
    await groups.sent(others[0]!, group.id, 'four');

    expect(await count(sql`select count(*) as n from messages m join conversations c on c.id = m.conversation_id where c.uuid = ${group.id}`)).toBe(4);
    expect(await count(sql`select count(*) as n from messages`)).toBe(messagesBefore + 4);
    // Each member's feed entry is the message itself: no event row per member.
    expect(await count(sql`select count(*) as n from events`)).toBe(eventsBefore);
    for (const member of others) expect((await history(member, group)).map((message) => message.message)).toEqual(['four', 'three', 'two', 'one']);
  });

  it('answers a retried send with the same client_id with the first result, storing nothing new', async () => {
    const [alice, bob] = await users(2);
    const group = await groups.group(alice, 'Retries', [bob]);
    const other = await groups.group(alice, 'Elsewhere', [bob]);
    const first = await groups.send(alice, group.id, 'only once', { client_id: 'g-1' });
    const again = await groups.send(alice, group.id, 'only once', { client_id: 'g-1' });
    expect(first.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(await history(bob, group)).toHaveLength(1);
    expect(await groups.send(alice, other.id, 'only once', { client_id: 'g-1' })).toMatchObject({ status: 409, body: { code: 'duplicate' } });
    expect(await groups.as(alice, 'POST', '/accounts/send-message/', { message: 'only once', receiver: bob.username, client_id: 'g-1' })).toMatchObject({ status: 409 });
  });

  it('moves each member’s read marker forward only, and counts their unread messages from it', async () => {
    const [alice, bob, carol] = await users(3);
    const group = await groups.group(alice, 'Reading', [bob, carol]);
    const ids = [await groups.sent(alice, group.id, 'one'), await groups.sent(carol, group.id, 'two'), await groups.sent(alice, group.id, 'three')];

    const read = await groups.as(bob, 'POST', `/accounts/messages/${ids[1]}/read/`);
    expect(read).toMatchObject({ status: 200, body: { id: ids[1], group: group.id, read_at: null } });
    expect(await unread(bob, group)).toBe(1);
    expect(await unread(carol, group)).toBe(2);
    // Never back.
    expect((await groups.as(bob, 'POST', `/accounts/messages/${ids[0]}/read/`)).status).toBe(200);
    expect(await unread(bob, group)).toBe(1);
    const members = (await groups.show(alice, group.id)).body.members as { user: string; read_up_to: number | null }[];
    expect(Object.fromEntries(members.map((member) => [member.user, member.read_up_to]))).toEqual({ [alice.username]: null, [bob.username]: ids[1], [carol.username]: null });

    // One's own message counts for nobody's unread but moves the marker too.
    await groups.as(carol, 'POST', `/accounts/messages/${ids[2]}/read/`);
    expect(await unread(carol, group)).toBe(0);
    await groups.as(bob, 'POST', `/accounts/messages/${ids[2]}/read/`);
    expect(await unread(bob, group)).toBe(0);
    expect(await unread(alice, group)).toBe(1);
  });

  it('takes a deleted message out of the unread counts of the members who had not read it', async () => {
    const [alice, bob, carol] = await users(3);
    const group = await groups.group(alice, 'Tidy', [bob, carol]);
    const ids = [await groups.sent(alice, group.id, 'one'), await groups.sent(alice, group.id, 'two'), await groups.sent(carol, group.id, 'three')];
    expect((await groups.as(bob, 'POST', `/accounts/messages/${ids[0]}/read/`)).status).toBe(200);
    const counts = async () => [await unread(alice, group), await unread(bob, group), await unread(carol, group)];
    expect(await counts()).toEqual([1, 2, 2]);
    expect((await groups.as(alice, 'DELETE', `/accounts/messages/${ids[0]}/`)).status).toBe(204);
    expect(await counts()).toEqual([1, 2, 1]);
    expect((await groups.as(carol, 'DELETE', `/accounts/messages/${ids[2]}/`)).status).toBe(204);
    expect(await counts()).toEqual([0, 1, 1]);
    // Reading up to the tombstone passes 'two' too.
    expect((await groups.as(bob, 'POST', `/accounts/messages/${ids[2]}/read/`)).status).toBe(200);
    expect(await counts()).toEqual([0, 0, 1]);
  });

  it('lets members edit and delete their own messages, the owner and admins delete anyone’s (a tombstone for all), nobody edit another’s', async () => {
    const [alice, bob, carol, dave] = await users(4);
    const group = await groups.group(alice, 'Moderated', [bob, carol, dave]);
    await groups.role(alice, group.id, dave, 'admin');
    const bobs = await groups.sent(bob, group.id, 'bob wrote this');
    const carols = await groups.sent(carol, group.id, 'carol wrote this');

    expect(await groups.as(carol, 'DELETE', `/accounts/messages/${bobs}/`)).toMatchObject({ status: 403, body: { code: 'forbidden' } });
    expect(await groups.as(alice, 'PATCH', `/accounts/messages/${bobs}/`, { message: 'alice rewrote it' })).toMatchObject({ status: 403, body: { code: 'forbidden' } });
    const edited = await groups.as(bob, 'PATCH', `/accounts/messages/${bobs}/`, { message: 'bob wrote this, edited' });
    expect(edited).toMatchObject({ status: 200, body: { id: bobs, group: group.id, message: 'bob wrote this, edited', edited_at: expect.any(String) } });

    expect((await groups.as(alice, 'DELETE', `/accounts/messages/${bobs}/`)).status).toBe(204);
    expect((await groups.as(dave, 'DELETE', `/accounts/messages/${carols}/`)).status).toBe(204);
    for (const member of [alice, bob, carol, dave]) {
      expect(await history(member, group)).toEqual([
        expect.objectContaining({ id: carols, deleted: true, message: '' }),
        expect.objectContaining({ id: bobs, deleted: true, message: '' }),
      ]);
    }
    expect(await groups.as(bob, 'PATCH', `/accounts/messages/${bobs}/`, { message: 'back' })).toMatchObject({ status: 409, body: { code: 'deleted' } });
    expect(await count(sql`select count(*) as n from messages where id in (${bobs}, ${carols}) and body <> ''`)).toBe(0);
  });

  it('shows a member added later the whole history, none of it unread nor in their catch-up and feed', async () => {
    const [alice, bob, carol] = await users(3);
    const group = await groups.group(alice, 'Latecomers', [bob]);
    await groups.sent(alice, group.id, 'before carol');
    await groups.sent(bob, group.id, 'still before');
    await groups.add(alice, group.id, carol);

    expect((await history(carol, group)).map((message) => message.message)).toEqual(['still before', 'before carol']);
    expect(await unread(carol, group)).toBe(0);
    const welcome = await groups.sent(alice, group.id, 'welcome');
    expect(await unread(carol, group)).toBe(1);
    // What came before she joined is history, not news: catch-up and the feed start at her joining.
    expect((await groups.as(carol, 'GET', '/accounts/messages/?after=0')).body.results.map((message: GroupMessage) => message.id)).toEqual([welcome]);
    const feed = (await groups.as(carol, 'GET', '/accounts/events/?after=0')).body.results as { type: string; seq: number }[];
    expect(feed.map((event) => event.type)).toEqual(['group', 'message']);
    expect(feed[1]!.seq).toBe(welcome);
  });

  it('ends a removed member’s access: the group answers 404, leaves their lists and catch-up; their own messages stay', async () => {
    const [alice, bob, carol] = await users(3);
    const group = await groups.group(alice, 'Out', [bob, carol]);
    const carols = await groups.sent(carol, group.id, 'carol was here');
    expect((await groups.remove(alice, group.id, carol)).status).toBe(204);

    expect((await groups.history(carol, group.id)).status).toBe(404);
    expect((await groups.send(carol, group.id, 'still here?')).status).toBe(404);
    expect(await rowOf(carol, group)).toBeUndefined();
    expect((await groups.as(carol, 'GET', '/accounts/messages/?after=0')).body.results).toEqual([]);
    expect((await groups.as(carol, 'DELETE', `/accounts/messages/${carols}/`)).status).toBe(404);
    expect((await history(bob, group)).map((message) => message.id)).toEqual([carols]);
  });
});
