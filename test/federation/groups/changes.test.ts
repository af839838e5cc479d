// Edits, deletes (an admin's moderation too), read markers and typing in a group homed on a, made
// on b and c: each reaches every backend (histories, `message_updated`, `read` with each backend's
// own message id, typing frames), and what the rules refuse changes nothing anywhere.
import { expect, it } from 'vitest';
import {
  connect,
  eventually,
  group,
  historiesAre,
  historyOf,
  membership,
  messageIdOf,
  ofType,
  person,
  seenAlikeBy,
  snapshot,
  trioSuite,
  type Frame,
  type Person,
} from './support.js';

const suite = trioSuite();

/** alice on a owns it, carol on c is an admin, bob on b a member. */
async function moderatedGroup(name: string): Promise<{ alice: Person; bob: Person; carol: Person; id: string }> {
  const [alice, bob, carol] = await Promise.all([person(suite.trio.a), person(suite.trio.b), person(suite.trio.c)]);
  const { id } = await group(alice, name, [bob, carol]);
  expect((await membership.role(alice, id, carol, 'admin')).status).toBe(200);
  await seenAlikeBy([alice, bob, carol], id, (seen) => expect(seen.members).toContainEqual({ user: carol.address, role: 'admin' }));
  return { alice, bob, carol, id };
}

const updatedTo = (text: string, deleted = false) => (frame: Frame) => {
  const message = frame.message as { message: string; deleted: boolean };
  return frame.type === 'message_updated' && message.message === text && message.deleted === deleted;
};

it('carries bob’s edit made on b and carol’s moderating delete made on c to every backend', async () => {
  const { alice, bob, carol, id } = await moderatedGroup('Edits');
  const bobsId = await bob.api.sent(bob, id, 'teh plan');
  await historiesAre([alice, bob, carol], id, [`${bob.address}: teh plan`]);
  const [alices, carols] = await Promise.all([connect(alice, suite.open), connect(carol, suite.open)]);

  const edited = await bob.api.as(bob, 'PATCH', `/accounts/messages/${bobsId}/`, { message: 'the plan' });
  expect(edited.status, JSON.stringify(edited.body)).toBe(200);
  for (const socket of [alices, carols]) await socket.next(updatedTo('the plan'), 10_000);
  await historiesAre([alice, bob, carol], id, [`${bob.address}: the plan`]);
  for (const member of [alice, bob, carol]) expect((await historyOf(member, id))[0]).toMatchObject({ edited: true, deleted: false });

  // Nobody edits another's text, an admin included; the refusal changes nothing anywhere.
  const carolsCopy = await messageIdOf(carol, id, 'the plan');
  const before = await snapshot([alice, bob, carol], id, suite.trio.all);
  const refused = await carol.api.as(carol, 'PATCH', `/accounts/messages/${carolsCopy}/`, { message: 'my plan' });
  expect(refused.status, JSON.stringify(refused.body)).toBe(403);
  expect(refused.body.code).toBe('forbidden');
  expect(await snapshot([alice, bob, carol], id, suite.trio.all)).toEqual(before);

  const bobs = await connect(bob, suite.open);
  const deleted = await carol.api.as(carol, 'DELETE', `/accounts/messages/${carolsCopy}/`);
  expect(deleted.status, JSON.stringify(deleted.body)).toBe(204);
  for (const socket of [alices, bobs]) await socket.next(updatedTo('', true), 10_000);
  await eventually(async () => {
    for (const member of [alice, bob, carol]) expect(await historyOf(member, id)).toEqual([expect.objectContaining({ sender: bob.address, message: '', deleted: true })]);
  });
});

it('lets a member delete their own message from their backend, and refuses a member deleting another’s', async () => {
  const { alice, bob, carol, id } = await moderatedGroup('Deletes');
  await alice.api.sent(alice, id, 'from the owner');
  const bobsId = await bob.api.sent(bob, id, 'from bob');
  await historiesAre([alice, bob, carol], id, [`${alice.address}: from the owner`, `${bob.address}: from bob`]);

  const ownersOnB = await messageIdOf(bob, id, 'from the owner');
  const before = await snapshot([alice, bob, carol], id, suite.trio.all);
  const refused = await bob.api.as(bob, 'DELETE', `/accounts/messages/${ownersOnB}/`);
  expect(refused.status, JSON.stringify(refused.body)).toBe(403);
  expect(refused.body.code).toBe('forbidden');
  expect(await snapshot([alice, bob, carol], id, suite.trio.all)).toEqual(before);

  expect((await bob.api.as(bob, 'DELETE', `/accounts/messages/${bobsId}/`)).status).toBe(204);
  await historiesAre([alice, bob, carol], id, [`${alice.address}: from the owner`, `${bob.address}: `]);
});

it('moves a read marker set on c forward on every backend, with a read event naming each backend’s own message id', async () => {
  const { alice, bob, carol, id } = await moderatedGroup('Reads');
  await alice.api.sent(alice, id, 'first');
  await bob.api.sent(bob, id, 'second');
  await historiesAre([alice, bob, carol], id, [`${alice.address}: first`, `${bob.address}: second`]);
  const [alices, bobs] = await Promise.all([connect(alice, suite.open), connect(bob, suite.open)]);
  const ids = {
    a: await messageIdOf(alice, id, 'second'),
    b: await messageIdOf(bob, id, 'second'),
    c: await messageIdOf(carol, id, 'second'),
  };

  const read = await carol.api.as(carol, 'POST', `/accounts/messages/${ids.c}/read/`);
  expect(read.status, JSON.stringify(read.body)).toBe(200);
  expect(await alices.next(ofType('read'), 10_000)).toEqual({ type: 'read', seq: expect.any(Number), group: id, user: carol.address, up_to: ids.a });
  expect(await bobs.next(ofType('read'), 10_000)).toEqual({ type: 'read', seq: expect.any(Number), group: id, user: carol.address, up_to: ids.b });
  await eventually(async () => {
    for (const [member, upTo] of [
      [alice, ids.a],
      [bob, ids.b],
      [carol, ids.c],
    ] as const) {
      const shown = await member.api.show(member, id);
      const carols = (shown.body.members as { user: string; read_up_to: number | null }[]).find((entry) => entry.user === (member === carol ? carol.username : carol.address));
      expect(carols?.read_up_to, `carol's marker on ${member.backend.name}`).toBe(upTo);
    }
  });

  // Never back: reading the first message again changes nothing anywhere.
  const firstOnC = await messageIdOf(carol, id, 'first');
  expect((await carol.api.as(carol, 'POST', `/accounts/messages/${firstOnC}/read/`)).status).toBe(200);
  await alice.api.sent(alice, id, 'third');
  await alices.next(ofType('message', (frame) => (frame.message as { message: string }).message === 'third'));
  await historiesAre([alice, bob, carol], id, [`${alice.address}: first`, `${bob.address}: second`, `${alice.address}: third`]);
  const shownOnA = await alice.api.show(alice, id);
  expect((shownOnA.body.members as { user: string; read_up_to: number }[]).find((entry) => entry.user === carol.address)?.read_up_to).toBe(ids.a);
  expect(alices.frames.filter((frame) => frame.type === 'read')).toHaveLength(1);
});

it('passes typing in the group from b to the members on a and c, and from a to b and c', async () => {
  const { alice, bob, carol, id } = await moderatedGroup('Typing');
  const [alices, bobs, carols] = await Promise.all([alice, bob, carol].map((member) => connect(member, suite.open)));

  bobs.send({ type: 'typing', group: id });
  expect(await alices.next(ofType('typing'), 10_000)).toEqual({ type: 'typing', from: bob.address, group: id });
  expect(await carols.next(ofType('typing'), 10_000)).toEqual({ type: 'typing', from: bob.address, group: id });

  alices.send({ type: 'typing', group: id });
  expect(await bobs.next(ofType('typing'), 10_000)).toEqual({ type: 'typing', from: alice.address, group: id });
  expect(await carols.next(ofType('typing'), 10_000)).toEqual({ type: 'typing', from: alice.address, group: id });
});
