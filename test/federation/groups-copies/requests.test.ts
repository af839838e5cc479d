// Changes asked on a member's backend (b) for a group homed on a (a stand-in home server): the
// local rules first, against the copy; then a `group_request` to the home, whose answer is the
// caller's once the copy shows it (200 Group, 204), whose refusal is the caller's (same status and
// code), and 202 queued when the home cannot be reached within FEDERATION_TIMEOUT.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { newKey, startTestApp, type TestApp } from '../../helpers/app.js';
import { describeEachDatabase } from '../../helpers/databases.js';
import { registerUser, type RegisteredUser } from '../../helpers/http.js';
import { groupsClient, type GroupMember, type GroupMessage } from '../../groups/client.js';
import { openSocket } from '../../realtime/socket.js';
import { eventually } from '../peer-requests.js';
import { fakeHome, startFakeHomeServer, type FakeHomeServer, type HomeAnswer, type StateMember } from './fake-home.js';

describeEachDatabase('changes asked on a copy', (database) => {
  const key = newKey();
  let b: TestApp;
  let server: FakeHomeServer;
  let bob: RegisteredUser;
  let dave: RegisteredUser;
  let erin: RegisteredUser;
  const groups = groupsClient(() => b.url);
  const home = fakeHome(() => b.url, { name: 'a', key });

  /** The group as the home holds it: it applies every request but those it is told to refuse or drop. */
  const group = { id: randomUUID(), name: 'plans', version: 1, members: [] as StateMember[] };
  const state = () => home.state(group.id, group.version, group.members, group.name);

  let postsReachHome = false;

  function apply(item: Record<string, unknown>): HomeAnswer {
    if (item.type === 'group_post') return postsReachHome ? { status: 200 } : 'drop';
    if (item.name === 'refused at home') return { status: 403, code: 'forbidden' };
    if (item.user === 'zed@z') return { status: 400, code: 'validation_error' };
    if (item.name === 'while down') return 'drop';
    if (item.action === 'rename') group.name = item.name as string;
    if (item.action === 'add') group.members.push({ user: item.user as string, role: 'member' });
    if (item.action === 'remove') group.members = group.members.filter((member) => member.user !== item.user);
    if (item.action === 'role') group.members = group.members.map((member) => (member.user === item.user ? { ...member, role: item.role as 'admin' | 'member' } : member));
    group.version += 1;
    return { status: 200, version: group.version };
  }

  beforeAll(async () => {
    server = await startFakeHomeServer({
      key,
      answer: (item) => (item.group === group.id ? apply(item) : 'drop'),
      after: async (item, answer) => {
        if (item.group === group.id && answer !== 'drop' && answer.status === 200) await home.send([state()]);
      },
    });
    b = await startTestApp({ database, env: { SERVER_NAME: 'b', FEDERATION_TIMEOUT: '2s', PEERS: JSON.stringify([{ name: 'a', url: server.url, key }]) } });
    [bob, dave, erin] = await Promise.all([registerUser(b.url, 'bob'), registerUser(b.url, 'dave'), registerUser(b.url, 'erin')]);
    group.members = [
      { user: 'alice@a', role: 'owner' },
      { user: 'bob@b', role: 'admin' },
      { user: 'dave@b', role: 'member' },
    ];
    await home.send([state()]);
  });
  afterAll(async () => {
    await b.destroy();
    await server.close();
  });

  const users = (members: GroupMember[]) => members.map((member) => [member.user, member.role]);

  async function texts(user: RegisteredUser, id: string): Promise<string[]> {
    return ((await groups.history(user, id, '&limit=100')).body.results as GroupMessage[]).map((message) => message.message).reverse();
  }

  it('renames through the home, and answers the group once the copy has the new name', async () => {
    const renamed = await groups.rename(bob, group.id, 'new plans');
    expect(renamed.status, JSON.stringify(renamed.body)).toBe(200);
    expect(renamed.body).toMatchObject({ id: group.id, name: 'new plans', home: 'a' });
    expect(server.received.at(-1)).toMatchObject({ type: 'group_request', group: group.id, sender: 'bob', action: 'rename', name: 'new plans' });
  });

  it('refuses at once what the local rules refuse, without asking the home', async () => {
    const asked = server.received.length;
    expect((await groups.rename(dave, group.id, 'mine now')).status).toBe(403);
    expect((await groups.role(bob, group.id, dave, 'admin')).status).toBe(403);
    expect((await groups.add(dave, group.id, erin)).status).toBe(403);
    expect((await groups.as(bob, 'DELETE', `/accounts/groups/${group.id}/members/alice@a/`)).status).toBe(403);
    expect((await groups.as(bob, 'DELETE', `/accounts/groups/${group.id}/members/nobody@a/`)).status).toBe(404);
    expect((await groups.add(bob, group.id, 'not valid@nowhere')).status).toBe(400);
    expect((await groups.rename(erin, group.id, 'not a member')).status).toBe(404);
    // Adding a member twice changes nothing, and asks nothing.
    const again = await groups.add(bob, group.id, dave);
    expect(again.status).toBe(200);
    expect(server.received).toHaveLength(asked);
  });

  it('adds a member through the home (named as the home knows them) and answers the group with them', async () => {
    const added = await groups.add(bob, group.id, erin);
    expect(added.status, JSON.stringify(added.body)).toBe(200);
    expect(users(added.body.members)).toEqual([
      ['alice@a', 'owner'],
      ['bob', 'admin'],
      ['dave', 'member'],
      ['erin', 'member'],
    ]);
    expect(server.received.at(-1)).toMatchObject({ action: 'add', user: 'erin@b', sender: 'bob' });
    expect((await groups.show(erin, group.id)).status).toBe(200);
  });

  it("answers the home's refusal with its status and code, and changes nothing", async () => {
    const refused = await groups.rename(bob, group.id, 'refused at home');
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('forbidden');
    expect((await groups.show(bob, group.id)).body.name).toBe('new plans');
    // A user of a backend b does not know is the home's to judge.
    const unknown = await groups.add(bob, group.id, 'zed@z');
    expect(unknown.status).toBe(400);
    expect(unknown.body.code).toBe('validation_error');
    expect(server.received.at(-1)).toMatchObject({ action: 'add', user: 'zed@z' });
  });

  it('leaves through the home: 204, and the group is gone for the member who left', async () => {
    const left = await groups.remove(dave, group.id, dave);
    expect(left.status, JSON.stringify(left.body)).toBe(204);
    expect(server.received.at(-1)).toMatchObject({ action: 'remove', user: 'dave@b', sender: 'dave' });
    expect((await groups.show(dave, group.id)).status).toBe(404);
    expect(users((await groups.show(bob, group.id)).body.members)).toEqual([
      ['alice@a', 'owner'],
      ['bob', 'admin'],
      ['erin', 'member'],
    ]);
  });

  it('answers 202 queued when the home cannot be reached in time', async () => {
    const other = randomUUID();
    await home.send([home.state(other, 1, [{ user: 'alice@a', role: 'owner' }, { user: 'bob@b', role: 'admin' }])]);
    const started = Date.now();
    const queued = await groups.rename(bob, other, 'while down');
    expect(queued.status, JSON.stringify(queued.body)).toBe(202);
    expect(queued.body).toEqual({ status: 'queued' });
    expect(Date.now() - started).toBeLessThan(5000);
    expect((await groups.show(bob, other)).body.name).toBe('trip');
  });
  // The post's retries hold the group's line to the home until the home takes it (or it is withdrawn).
  it('places a post queued while the home was down where the home orders it, and marks it delivered', async () => {
    const socket = await openSocket(b.url, bob.token);
    try {
      const posted = await groups.send(bob, group.id, 'queued first');
      expect(posted.status).toBe(201);
      expect(posted.body.status).toBe('queued');
      const post = await eventually(async () => {
        const item = server.received.find((received) => received.type === 'group_post' && received.kind === 'message');
        expect(item).toMatchObject({ group: group.id, sender: 'bob' });
        return item!;
      });
      // Unordered yet: it comes after everything the home ordered.
      await home.send([home.message(group.id, { sender: 'alice@a', position: 100, text: 'ordered before' })]);
      expect(await texts(bob, group.id)).toEqual(['ordered before', 'queued first']);
      postsReachHome = true;
      await home.send([
        home.message(group.id, { sender: 'alice@a', position: 101, text: 'ordered first' }),
        home.message(group.id, { sender: 'bob@b', message: post.message as string, position: 102, text: 'queued first' }),
      ]);
      await home.send([home.message(group.id, { sender: 'alice@a', position: 103, text: 'ordered last' })]);
      expect(await texts(bob, group.id)).toEqual(['ordered before', 'ordered first', 'queued first', 'ordered last']);
      const history = (await groups.history(bob, group.id)).body.results as { id: number; message: string; status: string }[];
      const mine = history.find((message) => message.message === 'queued first')!;
      expect(mine.id).toBe(posted.body.id);
      expect(mine.status).toBe('delivered');
      expect(await socket.next((frame) => frame.type === 'status')).toMatchObject({ id: posted.body.id, status: 'delivered' });
      // Paged by the home's order too.
      const page = await groups.history(bob, group.id, '&limit=2');
      expect(page.body.results.map((message: { message: string }) => message.message)).toEqual(['ordered last', 'queued first']);
      const next = await groups.history(bob, group.id, `&limit=2&before=${page.body.next}`);
      expect(next.body.results.map((message: { message: string }) => message.message)).toEqual(['ordered first', 'ordered before']);
    } finally {
      await socket.close();
    }
  });

  it('leaves out of the history a post withdrawn before the home ordered it: it would never get its place', async () => {
    postsReachHome = false;
    const posted = await groups.send(bob, group.id, 'withdrawn while queued');
    expect(posted.body.status).toBe('queued');
    expect((await groups.as(bob, 'DELETE', `/accounts/messages/${posted.body.id}/`)).status).toBe(204);
    await home.send([home.message(group.id, { sender: 'alice@a', position: 200, text: 'said after it' })]);
    const history = (await groups.history(bob, group.id, '&limit=100')).body.results as GroupMessage[];
    expect(history[0]!.message).toBe('said after it');
    expect(history.map((message) => message.id)).not.toContain(posted.body.id);
    postsReachHome = true;
  });
});
