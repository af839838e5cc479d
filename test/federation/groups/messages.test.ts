// A group homed on a with members on b and c (groups.md, "Groups across backends"): every member
// sees the group and its history on their own backend without a request to a peer, messages from
// any backend reach every member's sockets once and read the same, in the same order, everywhere,
// and a post made while the home is down is queued on the poster's backend until the home has it.
import { expect, it } from 'vitest';
import {
  byUser,
  connect,
  eventually,
  group,
  historiesAre,
  historyOf,
  messageTexts,
  ofType,
  person,
  seenAlikeBy,
  seenBy,
  trioSuite,
  textsOf,
  type Person,
} from './support.js';

const suite = trioSuite();

async function members(): Promise<[Person, Person, Person]> {
  return Promise.all([person(suite.trio.a), person(suite.trio.b), person(suite.trio.c)]);
}

it('shows every member the group with the same id, name, home and members on their own backend', async () => {
  const [alice, bob, carol] = await members();
  const created = await group(alice, 'Across', [bob, carol]);
  expect(created).toMatchObject({ name: 'Across', home: 'a' });
  expect(created.members.map(({ user, role }) => ({ user, role })).sort(byUser)).toEqual(
    [
      { user: alice.username, role: 'owner' },
      { user: bob.address, role: 'member' },
      { user: carol.address, role: 'member' },
    ].sort(byUser),
  );

  const seen = await seenAlikeBy([alice, bob, carol], created.id);
  expect(seen).toEqual({
    id: created.id,
    name: 'Across',
    home: 'a',
    members: [
      { user: alice.address, role: 'owner' },
      { user: bob.address, role: 'member' },
      { user: carol.address, role: 'member' },
    ].sort(byUser),
  });
  // Each backend writes its own users plainly and the others qualified.
  const onB = await bob.api.show(bob, created.id);
  expect(onB.body.members.map((member: { user: string }) => member.user).sort()).toEqual([alice.address, bob.username, carol.address].sort());
  const listed = await carol.api.as(carol, 'GET', '/accounts/groups/');
  expect(listed.body.results).toContainEqual(expect.objectContaining({ id: created.id, name: 'Across', home: 'a', members_count: 3 }));
});

it('answers the group and its history on a member’s backend while every other backend is down', async () => {
  const [alice, bob, carol] = await members();
  const created = await group(alice, 'Offline reading', [bob, carol]);
  await alice.api.sent(alice, created.id, 'one from a');
  await bob.api.sent(bob, created.id, 'one from b');
  const expected = [`${alice.address}: one from a`, `${bob.address}: one from b`];
  await historiesAre([alice, bob, carol], created.id, expected);
  const seenBefore = await seenBy(bob, created.id);

  await Promise.all([suite.trio.a.stop(), suite.trio.c.stop()]);
  expect(await seenBy(bob, created.id)).toEqual(seenBefore);
  expect(await textsOf(bob, created.id)).toEqual(expected);
  const conversations = await bob.api.conversations(bob);
  expect(conversations.body.results).toContainEqual(expect.objectContaining({ with: null, group: { id: created.id, name: 'Offline reading', members_count: 3 } }));
  await suite.trio.c.start();
  await suite.trio.b.stop();
  expect(await textsOf(carol, created.id)).toEqual(expected);
});

it('brings a message from each backend to every member’s sockets once, and every history reads the same in the same order', async () => {
  const [alice, bob, carol] = await members();
  const created = await group(alice, 'Three ways', [bob, carol]);
  const sockets = await Promise.all([alice, bob, carol].map((member) => connect(member, suite.open)));

  // One after the other: each send is answered once its own backend has it.
  await alice.api.sent(alice, created.id, 'from a');
  await bob.api.sent(bob, created.id, 'from b');
  await carol.api.sent(carol, created.id, 'from c');
  const texts = await eventually(async () => {
    const lines = await textsOf(alice, created.id);
    expect(lines).toHaveLength(3);
    return lines;
  });
  expect(texts.map((line) => line.split(': ')[1]).sort()).toEqual(['from a', 'from b', 'from c']);
  await historiesAre([alice, bob, carol], created.id, texts);

  // A last message from the home: once every socket has it, nothing of the first three can still be on its way.
  await alice.api.sent(alice, created.id, 'last');
  for (const socket of sockets) await socket.next(ofType('message', (frame) => (frame.message as { message: string }).message === 'last'), 15_000);
  for (const [index, socket] of sockets.entries()) {
    const got = messageTexts(socket, created.id);
    expect(got, `socket ${index}`).toHaveLength(4);
    expect([...got].sort()).toEqual(['from a', 'from b', 'from c', 'last']);
  }
  await historiesAre([alice, bob, carol], created.id, [...texts, `${alice.address}: last`]);
  for (const member of [alice, bob, carol]) {
    expect((await historyOf(member, created.id)).every((line) => line.status === 'delivered')).toBe(true);
  }
});

it('keeps a post made on b while the home is down queued there, then delivered and ordered everywhere once the home is back', async () => {
  const [alice, bob, carol] = await members();
  const created = await group(alice, 'Home away', [bob, carol]);
  await alice.api.sent(alice, created.id, 'before');
  await historiesAre([alice, bob, carol], created.id, [`${alice.address}: before`]);
  const bobs = await connect(bob, suite.open);

  await suite.trio.a.stop();
  const sent = await bob.api.send(bob, created.id, 'while a is down');
  expect(sent.status, JSON.stringify(sent.body)).toBe(201);
  expect(sent.body).toMatchObject({ status: 'queued' });
  expect(await historyOf(bob, created.id)).toEqual([
    { sender: alice.address, message: 'before', deleted: false, edited: false, status: 'delivered' },
    { sender: bob.address, message: 'while a is down', deleted: false, edited: false, status: 'queued' },
  ]);
  expect(await textsOf(carol, created.id)).toEqual([`${alice.address}: before`]);

  await suite.trio.a.start();
  await bobs.next(ofType('status', (frame) => frame.id === sent.body.id && frame.status === 'delivered'), 20_000);
  await historiesAre([alice, bob, carol], created.id, [`${alice.address}: before`, `${bob.address}: while a is down`]);
  expect((await historyOf(bob, created.id)).map((line) => line.status)).toEqual(['delivered', 'delivered']);
  expect(messageTexts(bobs, created.id).filter((text) => text === 'while a is down')).toHaveLength(1);
});

it('shows a member of c added later the whole history, including what was sent before c had a copy', async () => {
  const [alice, bob, carol] = await members();
  const created = await group(alice, 'Before you came', [bob]);
  await alice.api.sent(alice, created.id, 'older news');
  await bob.api.sent(bob, created.id, 'older reply');
  await historiesAre([alice, bob], created.id, [`${alice.address}: older news`, `${bob.address}: older reply`]);

  const added = await alice.api.add(alice, created.id, carol.address);
  expect(added.status, JSON.stringify(added.body)).toBe(200);
  await historiesAre([alice, bob, carol], created.id, [`${alice.address}: older news`, `${bob.address}: older reply`]);
});
