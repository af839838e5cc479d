// A member's backend keeps copies of groups homed elsewhere (groups.md, "Groups across backends"):
// `group_state` and `group_message` from a fake home `a`, as signed transactions, on backend b
// (users bob and dave); c is another peer of b, which may not speak for a's groups.
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { newKey, startTestApp, type TestApp } from '../../helpers/app.js';
import { describeEachDatabase } from '../../helpers/databases.js';
import { registerUser, type RegisteredUser } from '../../helpers/http.js';
import { groupsClient, type GroupMessage } from '../../groups/client.js';
import { openSocket, type TestSocket } from '../../realtime/socket.js';
import { fakeHome, statuses } from './fake-home.js';

describeEachDatabase('copies of groups homed elsewhere', (database) => {
  const keys = { a: newKey(), c: newKey() };
  let b: TestApp;
  let bob: RegisteredUser;
  let dave: RegisteredUser;
  const groups = groupsClient(() => b.url);
  const home = fakeHome(() => b.url, { name: 'a', key: keys.a });
  const forger = fakeHome(() => b.url, { name: 'c', key: keys.c });
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    const peers = [
      { name: 'a', url: 'http://127.0.0.1:9', key: keys.a },
      { name: 'c', url: 'http://127.0.0.1:9', key: keys.c },
    ];
    b = await startTestApp({ database, env: { SERVER_NAME: 'b', PEERS: JSON.stringify(peers) } });
    [bob, dave] = await Promise.all([registerUser(b.url, 'bob'), registerUser(b.url, 'dave')]);
  });
  afterEach(async () => {
    await Promise.all(sockets.splice(0).map((socket) => socket.close()));
  });
  afterAll(() => b.destroy());

  async function connect(user: RegisteredUser): Promise<TestSocket> {
    const socket = await openSocket(b.url, user.token);
    sockets.push(socket);
    await socket.roundTrip();
    return socket;
  }

  const members = (...users: string[]) => users.map((user, index) => ({ user, role: index === 0 ? ('owner' as const) : ('member' as const) }));

  async function texts(user: RegisteredUser, group: string): Promise<string[]> {
    const history = await groups.history(user, group, '&limit=100');
    expect(history.status).toBe(200);
    return (history.body.results as GroupMessage[]).map((message) => message.message).reverse();
  }

  describe('group_state', () => {
    it('makes a copy for our members, homed on the sender, with every member as this backend shows them', async () => {
      const group = randomUUID();
      const socket = await connect(bob);
      expect(statuses(await home.send([home.state(group, 1, members('alice@a', 'bob@b', 'carol@c'))]))).toEqual([[200, undefined]]);
      const shown = await groups.show(bob, group);
      expect(shown.status).toBe(200);
      expect(shown.body).toMatchObject({ id: group, name: 'trip', home: 'a' });
      expect(shown.body.members.map((member: { user: string; role: string }) => [member.user, member.role])).toEqual([
        ['alice@a', 'owner'],
        ['bob', 'member'],
        ['carol@c', 'member'],
      ]);
      const event = await socket.next((frame) => frame.type === 'group');
      expect(event).toMatchObject({ type: 'group', group: { id: group, home: 'a' } });
      expect((await groups.as(bob, 'GET', '/accounts/groups/')).body.results).toContainEqual(expect.objectContaining({ id: group, home: 'a', members_count: 3 }));
      expect((await groups.show(dave, group)).status).toBe(404);
    });

    it('stores nothing for a group none of our users is in', async () => {
      const group = randomUUID();
      expect(statuses(await home.send([home.state(group, 1, members('alice@a', 'carol@c'))]))).toEqual([[200, undefined]]);
      // No copy: its messages have nowhere to go.
      expect(statuses(await home.send([home.message(group, { sender: 'alice@a', position: 1, text: 'no copy' })]))).toEqual([[404, 'not_found']]);
    });

    it('takes a newer version (name, members, roles) and ignores an older or equal one', async () => {
      const group = randomUUID();
      await home.send([home.state(group, 3, members('alice@a', 'bob@b'))]);
      const daveSocket = await connect(dave);
      const newer = home.state(group, 5, [...members('alice@a', 'bob@b'), { user: 'dave@b', role: 'admin' }], 'renamed');
      expect(statuses(await home.send([newer, home.state(group, 4, members('alice@a'), 'older'), home.state(group, 5, members('alice@a'), 'same')]))).toEqual([
        [200, undefined],
        [200, undefined],
        [200, undefined],
      ]);
      const shown = (await groups.show(dave, group)).body;
      expect(shown.name).toBe('renamed');
      expect(shown.members.map((member: { user: string; role: string }) => [member.user, member.role])).toEqual([
        ['alice@a', 'owner'],
        ['bob', 'member'],
        ['dave', 'admin'],
      ]);
      expect(await daveSocket.next((frame) => frame.type === 'group')).toMatchObject({ group: { id: group, name: 'renamed' } });
      // The same item again changes nothing; nor does a version past what a number holds exactly (it would freeze the copy).
      expect(statuses(await home.send([newer, home.state(group, 1e300, members('alice@a'), 'frozen')]))).toEqual([
        [200, undefined],
        [400, 'validation_error'],
      ]);
      expect((await groups.show(dave, group)).body).toEqual(shown);
    });

    it('tells a removed member at once, and drops the copy with its messages when no member of ours is left', async () => {
      const group = randomUUID();
      await home.send([home.state(group, 1, members('alice@a', 'bob@b', 'dave@b')), home.message(group, { sender: 'alice@a', position: 7, text: 'kept a while' })]);
      expect(await texts(dave, group)).toEqual(['kept a while']);
      const daveSocket = await connect(dave);
      await home.send([home.state(group, 2, members('alice@a', 'bob@b'))]);
      expect(await daveSocket.next((frame) => frame.type === 'group_left')).toMatchObject({ id: group });
      expect((await groups.show(dave, group)).status).toBe(404);
      expect((await groups.history(dave, group)).status).toBe(404);
      expect(await texts(bob, group)).toEqual(['kept a while']);

      const bobSocket = await connect(bob);
      await home.send([home.state(group, 3, members('alice@a'))]);
      expect(await bobSocket.next((frame) => frame.type === 'group_left')).toMatchObject({ id: group });
      expect((await groups.show(bob, group)).status).toBe(404);
      expect((await groups.conversations(bob)).body.results.some((row: { group: { id: string } | null }) => row.group?.id === group)).toBe(false);
      expect(statuses(await home.send([home.message(group, { sender: 'alice@a', position: 8, text: 'after the end' })]))).toEqual([[404, 'not_found']]);
    });
  });

  describe('group_message', () => {
    it("stores messages in the home's order, once, with their events, unread counts and the conversations list", async () => {
      const group = randomUUID();
      await home.send([home.state(group, 1, members('alice@a', 'bob@b', 'carol@c'))]);
      const socket = await connect(bob);
      const first = home.message(group, { sender: 'alice@a', position: 10, text: 'one' });
      const items = [first, home.message(group, { sender: 'carol@c', position: 12, text: 'two' }), home.message(group, { sender: 'alice@a', position: 15, text: 'three' })];
      expect(statuses(await home.send(items))).toEqual([
        [200, undefined],
        [200, undefined],
        [200, undefined],
      ]);
      expect(statuses(await home.send([first]))).toEqual([[200, undefined]]);
      expect(await texts(bob, group)).toEqual(['one', 'two', 'three']);
      const event = await socket.next((frame) => frame.type === 'message');
      expect(event).toMatchObject({ message: { sender: 'alice@a', group, message: 'one', status: 'delivered', receiver: null } });
      const row = (await groups.conversations(bob)).body.results.find((entry: { group: { id: string } | null }) => entry.group?.id === group);
      expect(row).toMatchObject({ with: null, group: { id: group, name: 'trip', members_count: 3 }, unread: 3, last_message: { message: 'three' } });
    });

    it('answers each bad message of a run on its own, stores the others in order, and an item repeated in the run once', async () => {
      const group = randomUUID();
      await home.send([home.state(group, 1, members('alice@a', 'bob@b'))]);
      const first = home.message(group, { sender: 'alice@a', position: 1, text: 'first' });
      const results = await home.send([
        first,
        home.message(group, { sender: 'alice@a', text: 'no position' }),
        home.message(group, { sender: 'not a user@a', position: 2, text: 'bad sender' }),
        home.message(group, { sender: 'alice@a', position: 3, text: '   ' }),
        first,
        home.message(randomUUID(), { sender: 'alice@a', position: 4, text: 'no such group' }),
        // Past what a number holds exactly: no place could follow it.
        home.message(group, { sender: 'alice@a', position: 1e300, text: 'too far' }),
        home.message(group, { sender: 'alice@a', position: 5, text: 'last' }),
      ]);
      expect(statuses(results)).toEqual([
        [200, undefined],
        [400, 'validation_error'],
        [400, 'validation_error'],
        [400, 'validation_error'],
        [200, undefined],
        [404, 'not_found'],
        [400, 'validation_error'],
        [200, undefined],
      ]);
      expect(await texts(bob, group)).toEqual(['first', 'last']);
    });

    it('applies edits, deletes and read markers by message id, as the home says', async () => {
      const group = randomUUID();
      const posted = home.message(group, { sender: 'alice@a', position: 20, text: 'first words' });
      const other = home.message(group, { sender: 'carol@c', position: 21, text: 'to go' });
      await home.send([home.state(group, 1, members('alice@a', 'bob@b', 'carol@c')), posted, other]);
      const socket = await connect(bob);
      const edit = home.message(group, { kind: 'edit', message: posted.message as string, sender: 'alice@a', text: 'second words' });
      const results = await home.send([
        edit,
        home.message(group, { kind: 'delete', message: other.message as string, sender: 'alice@a' }),
        home.message(group, { kind: 'read', message: other.message as string, sender: 'carol@c' }),
        home.message(group, { kind: 'edit', message: randomUUID(), sender: 'alice@a', text: 'of nothing' }),
      ]);
      expect(statuses(results)).toEqual([
        [200, undefined],
        [200, undefined],
        [200, undefined],
        [404, 'not_found'],
      ]);
      const history = (await groups.history(bob, group)).body.results as GroupMessage[];
      expect(history.map((message) => [message.message, message.deleted, message.edited_at !== null])).toEqual([
        ['', true, false],
        ['second words', false, true],
      ]);
      expect(await socket.next((frame) => frame.type === 'message_updated')).toMatchObject({ message: { message: 'second words' } });
      expect(await socket.next((frame) => frame.type === 'read')).toMatchObject({ group, user: 'carol@c', up_to: history[0]!.id });
      const shown = (await groups.show(bob, group)).body;
      expect(shown.members.find((member: { user: string }) => member.user === 'carol@c').read_up_to).toBe(history[0]!.id);
      // The same edit again is not applied twice.
      expect(statuses(await home.send([edit]))).toEqual([[200, undefined]]);
      expect(((await groups.history(bob, group)).body.results as GroupMessage[])[1]!.edited_at).toBe(history[1]!.edited_at);
    });
  });

  describe('trust', () => {
    it("refuses a group's state and messages from any backend but its home, with nothing applied", async () => {
      const group = randomUUID();
      await home.send([home.state(group, 1, members('alice@a', 'bob@b')), home.message(group, { sender: 'alice@a', position: 1, text: 'genuine' })]);
      const genuine = ((await groups.history(bob, group)).body.results as GroupMessage[])[0]!;
      const forged = await forger.send([
        forger.state(group, 9, members('mallory@c', 'bob@b'), 'taken'),
        forger.message(group, { sender: 'alice@a', position: 2, text: 'forged' }),
        forger.message(group, { kind: 'edit', message: randomUUID(), sender: 'alice@a', text: 'forged edit' }),
        forger.message(group, { kind: 'read', message: randomUUID(), sender: 'alice@a' }),
        forger.message(randomUUID(), { sender: 'alice@a', position: 3, text: 'no such group' }),
      ]);
      expect(statuses(forged)).toEqual([
        [403, 'forbidden'],
        [403, 'forbidden'],
        [403, 'forbidden'],
        [403, 'forbidden'],
        [404, 'not_found'],
      ]);
      const shown = (await groups.show(bob, group)).body;
      expect(shown).toMatchObject({ name: 'trip', home: 'a' });
      expect(shown.members.map((member: { user: string }) => member.user)).toEqual(['alice@a', 'bob']);
      expect(await texts(bob, group)).toEqual([genuine.message]);
    });

    it("refuses a home's new message in the name of one of our users, which they never posted", async () => {
      const group = randomUUID();
      await home.send([home.state(group, 1, members('alice@a', 'bob@b'))]);
      const socket = await connect(bob);
      const results = await home.send([
        home.message(group, { sender: 'bob@b', position: 1, text: 'bob never said this' }),
        home.message(group, { sender: 'alice@a', position: 2, text: 'alice may' }),
      ]);
      expect(statuses(results)).toEqual([
        [403, 'forbidden'],
        [200, undefined],
      ]);
      expect(await socket.next((frame) => frame.type === 'message')).toMatchObject({ message: { sender: 'alice@a', message: 'alice may' } });
      expect(await texts(bob, group)).toEqual(['alice may']);
    });

    it('refuses a group name with a control character from the home, as from a client', async () => {
      const group = randomUUID();
      expect(statuses(await home.send([home.state(group, 1, members('alice@a', 'bob@b'), 'bell\u0007')]))).toEqual([[400, 'validation_error']]);
      expect((await groups.show(bob, group)).status).toBe(404);
      await home.send([home.state(group, 2, members('alice@a', 'bob@b'))]);
      expect(statuses(await home.send([home.state(group, 3, members('alice@a', 'bob@b'), 'clear\u001b[2J')]))).toEqual([[400, 'validation_error']]);
      expect((await groups.show(bob, group)).body).toMatchObject({ name: 'trip' });
    });

    it('refuses a state for a group of its own from a peer', async () => {
      const own = await groups.group(bob, 'ours', [dave]);
      expect(statuses(await home.send([home.state(own.id, 99, members('alice@a', 'dave@b'), 'taken')]))).toEqual([[403, 'forbidden']]);
      expect(statuses(await home.send([home.message(own.id, { sender: 'alice@a', position: 5, text: 'forged' })]))).toEqual([[403, 'forbidden']]);
      expect((await groups.show(bob, own.id)).body).toEqual(own);
    });
  });
});
