// Membership and names of a group homed on a, changed from b and c (groups.md, "Groups across
// backends"): the home applies each request with its own rules and every backend follows with a
// growing version and `group` events; a removed member stops getting events at once and gets 404;
// a backend whose last member left drops its copy; a request asked while the home is down is
// answered 202 queued and applied when the home is back.
import { expect, it } from 'vitest';
import {
  byUser,
  connect,
  eventually,
  expectGone,
  group,
  membership,
  messageTexts,
  ofType,
  person,
  seenAlikeBy,
  snapshot,
  trioSuite,
  versionOn,
  type Person,
  type SeenGroup,
} from './support.js';

const suite = trioSuite();

const membersOf = (seen: SeenGroup) => seen.members.map((member) => `${member.user}:${member.role}`);

/** Waits until every backend named holds the same version, and answers it. */
async function versionsAlike(id: string, backends = suite.trio.all): Promise<number> {
  return eventually(async () => {
    const versions = await Promise.all(backends.map((backend) => versionOn(backend, id)));
    expect(versions[0]).toBeGreaterThan(0);
    for (const version of versions) expect(version).toBe(versions[0]);
    return versions[0]!;
  });
}

async function trioGroup(name: string): Promise<{ alice: Person; bob: Person; carol: Person; id: string }> {
  const [alice, bob, carol] = await Promise.all([person(suite.trio.a), person(suite.trio.b), person(suite.trio.c)]);
  const { id } = await group(alice, name, [bob, carol]);
  return { alice, bob, carol, id };
}

it('applies an add and a removal asked on b, a rename and a leave asked on c, at a and on every backend', async () => {
  const { alice, bob, carol, id } = await trioGroup('Changes');
  const dave = await person(suite.trio.c);
  expect((await membership.role(alice, id, bob, 'admin')).status).toBe(200);
  expect((await membership.role(alice, id, carol, 'admin')).status).toBe(200);
  await seenAlikeBy([alice, bob, carol], id, (seen) => expect(membersOf(seen)).toContain(`${carol.address}:admin`));
  const start = await versionsAlike(id);
  const [alices, bobs, carols, daves] = await Promise.all([alice, bob, carol, dave].map((member) => connect(member, suite.open)));

  const added = await membership.add(bob, id, dave);
  expect(added.status, JSON.stringify(added.body)).toBe(200);
  expect(added.body.members.map((member: { user: string }) => member.user)).toContain(dave.address);
  const withDave = await seenAlikeBy([alice, bob, carol, dave], id, (seen) => expect(membersOf(seen)).toContain(`${dave.address}:member`));
  expect(withDave.members).toHaveLength(4);
  for (const socket of [alices, bobs, carols, daves]) await socket.next(ofType('group', (frame) => (frame.group as { members: unknown[] }).members.length === 4), 10_000);
  const afterAdd = await versionsAlike(id);
  expect(afterAdd).toBeGreaterThan(start);

  const renamed = await membership.rename(carol, id, 'Changed on c');
  expect(renamed.status, JSON.stringify(renamed.body)).toBe(200);
  expect(renamed.body.name).toBe('Changed on c');
  await seenAlikeBy([alice, bob, carol, dave], id, (seen) => expect(seen.name).toBe('Changed on c'));
  for (const socket of [alices, bobs, daves]) await socket.next(ofType('group', (frame) => (frame.group as { name: string }).name === 'Changed on c'), 10_000);
  const afterRename = await versionsAlike(id);
  expect(afterRename).toBeGreaterThan(afterAdd);

  // dave is removed from b; his socket on c gets group_left and nothing of the group after it.
  expect((await membership.remove(bob, id, dave)).status).toBe(204);
  expect(await daves.next(ofType('group_left'), 10_000)).toEqual({ type: 'group_left', seq: expect.any(Number), id });
  await expectGone(dave, id);
  await alice.api.sent(alice, id, 'dave is gone');
  await carols.next(ofType('message', (frame) => (frame.message as { message: string }).message === 'dave is gone'), 10_000);
  await daves.roundTrip();
  expect(messageTexts(daves, id)).not.toContain('dave is gone');
  await seenAlikeBy([alice, bob, carol], id, (seen) => expect(seen.members.map((member) => member.user)).not.toContain(dave.address));
  const afterRemoval = await versionsAlike(id);
  expect(afterRemoval).toBeGreaterThan(afterRename);

  // carol leaves from c: c had no other member, so it drops its copy.
  expect((await membership.remove(carol, id, carol)).status).toBe(204);
  await carols.next(ofType('group_left'), 10_000);
  await expectGone(carol, id);
  await eventually(async () => expect(await versionOn(suite.trio.c, id)).toBeUndefined());
  const left = await seenAlikeBy([alice, bob], id, (seen) => expect(seen.members).toHaveLength(2));
  expect(left.members).toEqual([{ user: alice.address, role: 'owner' }, { user: bob.address, role: 'admin' }].sort(byUser));
  expect(await versionsAlike(id, [suite.trio.a, suite.trio.b])).toBeGreaterThan(afterRemoval);
});

it('hands the group over on the owner’s leave, and applies role changes asked on b by the new owner while refusing c’s admin', async () => {
  const { alice, bob, carol, id } = await trioGroup('Roles');
  expect((await membership.role(alice, id, bob, 'admin')).status).toBe(200);
  expect((await membership.remove(alice, id, alice)).status).toBe(204);
  await expectGone(alice, id);
  await seenAlikeBy([bob, carol], id, (seen) => expect(seen.members).toEqual([{ user: bob.address, role: 'owner' }, { user: carol.address, role: 'member' }].sort(byUser)));

  const promoted = await membership.role(bob, id, carol, 'admin');
  expect(promoted.status, JSON.stringify(promoted.body)).toBe(200);
  await seenAlikeBy([bob, carol], id, (seen) => expect(seen.members).toEqual([{ user: bob.address, role: 'owner' }, { user: carol.address, role: 'admin' }].sort(byUser)));
  // a still holds the group (it is its home) though none of its users is a member.
  const version = await versionsAlike(id, [suite.trio.a, suite.trio.b, suite.trio.c]);

  const before = await snapshot([bob, carol], id, suite.trio.all);
  const demoteOwner = await membership.role(carol, id, bob, 'member');
  expect(demoteOwner.status, JSON.stringify(demoteOwner.body)).toBe(403);
  expect(demoteOwner.body.code).toBe('forbidden');
  const removeOwner = await membership.remove(carol, id, bob);
  expect(removeOwner.status, JSON.stringify(removeOwner.body)).toBe(403);
  expect(removeOwner.body.code).toBe('forbidden');
  expect(await snapshot([bob, carol], id, suite.trio.all)).toEqual(before);
  expect(await versionOn(suite.trio.a, id)).toBe(version);
});

it('answers 202 queued for a rename asked on b while the home is down, and applies it everywhere when the home is back', async () => {
  const { alice, bob, carol, id } = await trioGroup('Before the outage');
  expect((await membership.role(alice, id, bob, 'admin')).status).toBe(200);
  await seenAlikeBy([alice, bob, carol], id, (seen) => expect(membersOf(seen)).toContain(`${bob.address}:admin`));
  const start = await versionsAlike(id);

  await suite.trio.a.stop();
  const asked = await membership.rename(bob, id, 'After the outage');
  expect(asked.status, JSON.stringify(asked.body)).toBe(202);
  expect(asked.body).toEqual({ status: 'queued' });
  await suite.trio.a.start();
  await seenAlikeBy([alice, bob, carol], id, (seen) => expect(seen.name).toBe('After the outage'), 30_000);
  expect(await versionsAlike(id)).toBeGreaterThan(start);
});

it('refuses on b what the home’s rules refuse: a member renaming, adding, or changing roles', async () => {
  const { alice, bob, carol, id } = await trioGroup('Rules');
  const erin = await person(suite.trio.b);
  const before = await snapshot([alice, bob, carol], id, suite.trio.all);
  for (const refused of [await membership.rename(bob, id, 'Mine now'), await membership.add(bob, id, erin), await membership.role(bob, id, carol, 'admin')]) {
    expect(refused.status, JSON.stringify(refused.body)).toBe(403);
    expect(refused.body.code).toBe('forbidden');
  }
  expect(await snapshot([alice, bob, carol], id, suite.trio.all)).toEqual(before);
  await expectGone(erin, id);
});

it('drops a member named on a peer that has no such user: the peer has them leave, and every backend agrees', async () => {
  const [alice, carol] = await Promise.all([person(suite.trio.a), person(suite.trio.c)]);
  const ghost = `nobody${Date.now()}@c`;
  const created = await alice.api.create(alice, 'Ghosts', [carol.address, ghost]);
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const { id } = created.body as { id: string };
  expect((created.body as { members: { user: string }[] }).members.map((member) => member.user)).toContain(ghost);
  // c leaves the unknown user out of its copy and has them leave at the home; the next state says so everywhere.
  const seen = await seenAlikeBy([alice, carol], id, (view) => expect(view.members.map((member) => member.user)).not.toContain(ghost));
  expect(seen.members.map((member) => member.user).sort()).toEqual([alice.address, carol.address].sort());
  await versionsAlike(id, [suite.trio.a, suite.trio.c]);
});
