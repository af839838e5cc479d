// Groups in real time: `message`, `message_updated`, `group`, `group_left` and `read` events reach
// every member's sessions with their seq and replay with no gap after a reconnect; a removed
// member's open sockets stop getting the group's events at once; typing in a group and presence
// between members.
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { describeEachDatabase } from '../helpers/databases.js';
import { call, registerUser, type RegisteredUser } from '../helpers/http.js';
import { openSocket, type TestSocket } from '../realtime/socket.js';
import { groupsClient, type GroupsClient } from './client.js';

type Frame = Record<string, unknown>;

const GRACE_MS = 300;

describeEachDatabase('groups in real time', (database) => {
  let app: TestApp;
  let groups: GroupsClient;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    app = await startTestApp({ database, env: { PRESENCE_GRACE: `${GRACE_MS}ms` } });
    groups = groupsClient(app.url);
  });
  afterEach(async () => {
    await Promise.all(sockets.splice(0).map((socket) => socket.close()));
  });
  afterAll(() => app.destroy());

  const users = (count: number) => Promise.all(Array.from({ length: count }, () => registerUser(app.url)));

  /** A socket authenticated by its first frame (replaying after `after`), with every frame with a seq it gets in `frames`. */
  async function connect(user: RegisteredUser, after?: number): Promise<TestSocket & { frames: Frame[] }> {
    const socket = await openSocket(app.url);
    sockets.push(socket);
    const frames: Frame[] = [];
    socket.ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Frame;
      if (typeof frame.seq === 'number') frames.push(frame);
    });
    socket.send({ type: 'auth', token: user.token, ...(after === undefined ? {} : { after }) });
    await socket.roundTrip();
    return Object.assign(socket, { frames });
  }

  async function feed(user: RegisteredUser, after: number): Promise<Frame[]> {
    const response = await call(app.url, 'GET', `/accounts/events/?after=${after}&limit=500`, undefined, { token: user.token });
    expect(response.status).toBe(200);
    return response.body.results as Frame[];
  }

  const ofType = (type: string, extra: (frame: Frame) => boolean = () => true) => (frame: Frame) => frame.type === type && extra(frame);

  it('sends every event of the group to every member’s sessions with its seq, the feed has them the same, and a reconnect replays them with no gap', async () => {
    const [alice, bob, carol, dave] = await users(4);
    const bobsPhone = await connect(bob);
    const { frames } = await connect(bob);
    const start = ((await feed(bob, 0)).at(-1)?.seq as number | undefined) ?? 0;

    const group = await groups.group(alice, 'Live', [bob, carol]);
    const created = await bobsPhone.next(ofType('group'));
    expect(created).toEqual({ type: 'group', seq: expect.any(Number), group });

    const id = await groups.sent(carol, group.id, 'hello all');
    expect(await bobsPhone.next(ofType('message'))).toEqual({
      type: 'message',
      seq: id,
      message: expect.objectContaining({ id, sender: carol.username, receiver: null, group: group.id, message: 'hello all' }),
    });
    await groups.as(carol, 'PATCH', `/accounts/messages/${id}/`, { message: 'hello, all' });
    expect(await bobsPhone.next(ofType('message_updated'))).toMatchObject({ seq: expect.any(Number), message: { id, message: 'hello, all', edited_at: expect.any(String) } });
    await groups.rename(alice, group.id, 'Live and well');
    expect(await bobsPhone.next(ofType('group'))).toMatchObject({ group: { id: group.id, name: 'Live and well' } });
    await groups.add(alice, group.id, dave);
    expect((await bobsPhone.next(ofType('group'))).group).toMatchObject({ members: expect.arrayContaining([expect.objectContaining({ user: dave.username })]) });
    await groups.role(alice, group.id, carol, 'admin');
    expect((await bobsPhone.next(ofType('group'))).group).toMatchObject({ members: expect.arrayContaining([{ user: carol.username, role: 'admin', joined_at: expect.any(String), read_up_to: null }]) });
    await groups.as(carol, 'POST', `/accounts/messages/${id}/read/`);
    expect(await bobsPhone.next(ofType('read'))).toEqual({ type: 'read', seq: expect.any(Number), group: group.id, user: carol.username, up_to: id });
    await groups.as(alice, 'DELETE', `/accounts/messages/${id}/`);
    expect(await bobsPhone.next(ofType('message_updated'))).toMatchObject({ message: { id, deleted: true, message: '' } });

    // The laptop got the same, in seq order; the feed has every one of them, as sent (a group
    // event shows the group as it is now, as a message event shows its message).
    const live = frames.filter((frame) => (frame.seq as number) > start);
    expect(live.map((frame) => frame.type)).toEqual(['group', 'message', 'message_updated', 'group', 'group', 'group', 'read', 'message_updated']);
    const seqs = live.map((frame) => frame.seq as number);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    const stored = await feed(bob, start);
    expect(stored.map((frame) => [frame.type, frame.seq])).toEqual(live.map((frame) => [frame.type, frame.seq]));
    const now = (await groups.show(bob, group.id)).body;
    for (const frame of stored.filter(ofType('group'))) expect(frame.group).toEqual(now);

    // The reader's own sessions get no `read` of their own.
    expect(live.filter(ofType('read', (frame) => frame.user === bob.username))).toEqual([]);
    // A socket that reconnects after the first of them replays the rest, once each, then goes on live.
    const again = await connect(bob, seqs[0]);
    const next = await groups.sent(alice, group.id, 'after the reconnect');
    await again.next(ofType('message', (frame) => frame.seq === next));
    expect(again.frames.map((frame) => frame.seq)).toEqual([...seqs.slice(1), next]);
  });

  it('stops a removed member’s sockets getting the group’s events at once, after a group_left', async () => {
    const [alice, bob, carol] = await users(3);
    const group = await groups.group(alice, 'Leaving', [bob, carol]);
    const carols = await connect(carol);
    const bobs = await connect(bob);
    const alices = await connect(alice);
    await groups.sent(alice, group.id, 'carol still sees this');
    await carols.next(ofType('message'));

    expect((await groups.remove(alice, group.id, carol)).status).toBe(204);
    expect(await carols.next(ofType('group_left'))).toEqual({ type: 'group_left', seq: expect.any(Number), id: group.id });
    expect((await bobs.next(ofType('group', (frame) => (frame.group as { members: unknown[] }).members.length === 2))).group).toMatchObject({ id: group.id });

    // A message, a read marker, an edit, a rename and typing: each reaches the members, none carol.
    const after = await groups.sent(alice, group.id, 'carol must not see this');
    await groups.as(bob, 'POST', `/accounts/messages/${after}/read/`);
    await groups.as(alice, 'PATCH', `/accounts/messages/${after}/`, { message: 'carol must not see this either' });
    await groups.rename(alice, group.id, 'Without carol');
    await bobs.next(ofType('group', (frame) => (frame.group as { name: string }).name === 'Without carol'));
    bobs.send({ type: 'typing', group: group.id });
    await alices.next(ofType('typing'));
    await carols.roundTrip();
    expect(carols.received.filter((frame) => frame.type !== 'pong' && frame.type !== 'presence')).toEqual([]);
    // Nor does the feed tell her anything of the group since: only that she left.
    const hers = await feed(carol, 0);
    expect(hers.filter((frame) => frame.type !== 'group_left')).toEqual([]);
  });

  it('passes typing in a group to the other members, at most once per 2 s, and never to a non-member', async () => {
    const [alice, bob, carol, dave] = await users(4);
    const group = await groups.group(alice, 'Typing', [bob, carol]);
    const [alices, bobs, carols, daves] = [await connect(alice), await connect(bob), await connect(carol), await connect(dave)];

    daves.send({ type: 'typing', group: group.id });
    alices.send({ type: 'typing', group: 'not-a-group' });
    alices.send({ type: 'typing', group: group.id.toUpperCase() });
    alices.send({ type: 'typing', group: group.id });
    const expected = { type: 'typing', from: alice.username, group: group.id };
    expect(await bobs.next(ofType('typing'))).toEqual(expected);
    expect(await carols.next(ofType('typing'))).toEqual(expected);
    await Promise.all([alices.roundTrip(), bobs.roundTrip(), carols.roundTrip(), daves.roundTrip()]);
    expect([...bobs.received, ...carols.received].filter(ofType('typing'))).toEqual([]);
    expect([...alices.received, ...daves.received].filter(ofType('typing'))).toEqual([]);

    const bad = await connect(alice);
    bad.send({ type: 'typing', group: 42 });
    expect((await bad.closed).code).toBe(1008);
  });

  it('shares presence between members of a group who have no conversation of their own', async () => {
    const [alice, bob, stranger] = await users(3);
    await groups.group(alice, 'Presence', [bob]);
    const alices = await connect(alice);
    const bobs = await connect(bob);
    expect(await alices.next(ofType('presence', (frame) => frame.user === bob.username))).toEqual({ type: 'presence', user: bob.username, status: 'online', last_seen: null });
    const looked = await call(app.url, 'GET', `/accounts/presence/?users=${bob.username},${stranger!.username}`, undefined, { token: alice.token });
    expect(looked.body).toEqual({ [bob.username]: { status: 'online', last_seen: null } });
    await bobs.close();
    expect(await alices.next(ofType('presence', (frame) => frame.user === bob.username && frame.status === 'offline'), 5000)).toMatchObject({ last_seen: expect.any(String) });
  });
});
