// Trust between backends for groups (groups.md, "Groups across backends"; federation.md,
// "Transactions"): a known peer signing transactions of its own may not speak for a group's home,
// may post or ask only for its own users who are members, cannot add members past the home's
// rules, and no compat peer's user becomes a member. Each refusal is a per-item answer with
// nothing applied anywhere. The same item twice is answered the same and stored once.
import { randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import { newKey } from '../../helpers/app.js';
import { postTransaction, transactionRequest } from '../transactions/peer-transactions.js';
import {
  eventually,
  group,
  groupItems,
  historiesAre,
  membership,
  pairKey,
  person,
  seenAlikeBy,
  sendItems,
  snapshot,
  trioSuite,
  versionOn,
  type Person,
} from './support.js';

// a also knows the original backend `old` (compat): its users may never join a group.
const suite = trioSuite({
  peers: (name, peers) => (name === 'a' ? [...peers, { name: 'old', url: 'http://127.0.0.1:9', key: newKey(), compat: true }] : peers),
});

/** alice on a owns it with bob on b (an admin) and carol on c; one message from alice is everywhere. */
async function trustedGroup(): Promise<{ alice: Person; bob: Person; carol: Person; id: string; members: Person[] }> {
  const [alice, bob, carol] = await Promise.all([person(suite.trio.a), person(suite.trio.b), person(suite.trio.c)]);
  const { id } = await group(alice, 'Trust', [bob, carol]);
  expect((await membership.role(alice, id, bob, 'admin')).status).toBe(200);
  await alice.api.sent(alice, id, 'hello');
  const members = [alice, bob, carol];
  await historiesAre(members, id, [`${alice.address}: hello`]);
  await seenAlikeBy(members, id, (seen) => expect(seen.members).toContainEqual({ user: bob.address, role: 'admin' }));
  await eventually(async () => expect(new Set(await Promise.all(suite.trio.all.map((backend) => versionOn(backend, id))))).toHaveLength(1));
  return { alice, bob, carol, id, members };
}

const refusal = (status: number, code: string) => ({ id: expect.any(String), status, code });

it('refuses group_state and group_message for a group homed on a when c sends them to b, and applies nothing', async () => {
  const { alice, bob, id, members } = await trustedGroup();
  const mallory = await person(suite.trio.c);
  const before = await snapshot(members, id, suite.trio.all);
  const version = before.versions[1]!;

  const results = await sendItems(suite.trio.c, suite.trio.b, [
    groupItems.state(id, {
      name: 'Taken over',
      version: version + 10,
      members: [
        { user: mallory.address, role: 'owner' },
        { user: bob.address, role: 'member' },
      ],
    }),
    groupItems.message(id, { sender: alice.address, text: 'forged words', position: 1_000_000 }),
  ]);
  expect(results).toEqual([refusal(403, 'forbidden'), refusal(403, 'forbidden')]);
  expect(await snapshot(members, id, suite.trio.all)).toEqual(before);
  expect((await mallory.api.show(mallory, id)).status).toBe(404);
});

it('refuses group_post and group_request from c for a user of c who is not a member, and for a member of another backend', async () => {
  const { bob, id, members } = await trustedGroup();
  const mallory = await person(suite.trio.c);
  const before = await snapshot(members, id, suite.trio.all);

  const results = await sendItems(suite.trio.c, suite.trio.a, [
    groupItems.post(id, { sender: mallory.username, text: 'let me in' }),
    groupItems.request(id, { sender: mallory.username, action: 'add', user: mallory.address }),
    groupItems.request(id, { sender: mallory.username, action: 'rename', name: 'Mallory’s' }),
    // bob is a member, but of b: c cannot speak for him.
    groupItems.post(id, { sender: bob.username, text: 'not really bob' }),
    groupItems.request(id, { sender: bob.username, action: 'add', user: mallory.address }),
  ]);
  expect(results).toEqual(Array(5).fill(refusal(403, 'forbidden')));
  expect(await snapshot(members, id, suite.trio.all)).toEqual(before);
});

it('applies the home’s rules to a member’s request from c: a plain member may not add b’s users, rename or change roles', async () => {
  const { bob, carol, id, members } = await trustedGroup();
  const dave = await person(suite.trio.b);
  const before = await snapshot(members, id, suite.trio.all);

  const results = await sendItems(suite.trio.c, suite.trio.a, [
    groupItems.request(id, { sender: carol.username, action: 'add', user: dave.address }),
    groupItems.request(id, { sender: carol.username, action: 'rename', name: 'Carol’s' }),
    groupItems.request(id, { sender: carol.username, action: 'role', user: carol.address, role: 'admin' }),
    groupItems.request(id, { sender: carol.username, action: 'remove', user: bob.address }),
  ]);
  expect(results).toEqual(Array(4).fill(refusal(403, 'forbidden')));
  expect(await snapshot(members, id, suite.trio.all)).toEqual(before);
  expect((await dave.api.show(dave, id)).status).toBe(404);
});

it('refuses a compat peer’s user as a member: on creation, on an add at home, in a group_request, and on an add asked on b', async () => {
  const { alice, bob, id, members } = await trustedGroup();
  const created = await alice.api.create(alice, 'With the original', [bob.address, 'olga@old']);
  expect(created.status, JSON.stringify(created.body)).toBe(400);
  expect(created.body).toMatchObject({ code: 'validation_error', fields: { members: expect.anything() } });

  const before = await snapshot(members, id, suite.trio.all);
  const atHome = await alice.api.add(alice, id, 'olga@old');
  expect(atHome.status, JSON.stringify(atHome.body)).toBe(400);
  expect(atHome.body).toMatchObject({ code: 'validation_error', fields: { user: expect.anything() } });
  const asked = await sendItems(suite.trio.b, suite.trio.a, [groupItems.request(id, { sender: bob.username, action: 'add', user: 'olga@old' })]);
  expect(asked).toEqual([refusal(400, 'validation_error')]);
  expect(await snapshot(members, id, suite.trio.all)).toEqual(before);

  // Asked on b, the home's answer is b's: the same 400 as at home, naming the field.
  const onB = await bob.api.add(bob, id, 'olga@old');
  expect(onB.status, JSON.stringify(onB.body)).toBe(400);
  expect(await snapshot(members, id, suite.trio.all)).toEqual(before);
  expect(onB.body).toMatchObject({ code: 'validation_error', fields: { user: expect.anything() } });
});

it('refuses every group item signed with a compat peer’s key (it is no group’s home and none of its users a member), and a state listing its user', async () => {
  const { alice, bob, id, members } = await trustedGroup();
  const before = await snapshot(members, id, suite.trio.all);
  const oldKey = suite.trio.a.peers.find((peer) => peer.name === 'old')!.key;
  const fromOld = async (items: Record<string, unknown>[]) => {
    const response = await postTransaction(suite.trio.a.url, transactionRequest({ key: oldKey, items, origin: 'old', destination: 'a' }));
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    return response.body.results as unknown[];
  };
  // A group "homed" on old, with alice in it, and a message in it; then old's user posting and asking in alice's group.
  const forged = randomUUID();
  const results = await fromOld([
    groupItems.state(forged, { name: 'Old home', version: 1, members: [{ user: 'olga@old', role: 'owner' }, { user: alice.address, role: 'member' }] }),
    groupItems.message(forged, { sender: 'olga@old', text: 'from the old home', position: 1 }),
    groupItems.post(id, { sender: 'olga', text: 'let me in' }),
    groupItems.request(id, { sender: 'olga', action: 'add', user: 'oscar@old' }),
    { type: 'typing', id: randomUUID(), from: 'olga', group: id },
  ]);
  expect(results).toEqual(Array.from({ length: 5 }, () => refusal(403, 'forbidden')));
  // Without an origin a request is the compat peer's, and a transaction is never taken unsigned.
  const unsigned = await postTransaction(suite.trio.a.url, transactionRequest({ key: oldKey, items: [groupItems.post(id, { sender: 'olga', text: 'unsigned' })], origin: null, signWith: null }));
  expect([unsigned.status, unsigned.body.code]).toEqual([401, 'invalid_signature']);
  expect((await alice.api.show(alice, forged)).status).toBe(404);
  expect(await versionOn(suite.trio.a, forged)).toBeUndefined();

  // From a peer with groups, a state that lists a compat peer's user is refused whole.
  const listed = await sendItems(suite.trio.b, suite.trio.a, [
    groupItems.state(randomUUID(), { name: 'With olga', version: 1, members: [{ user: bob.address, role: 'owner' }, { user: alice.address, role: 'member' }, { user: 'olga@old', role: 'member' }] }),
  ]);
  expect(listed).toEqual([refusal(400, 'validation_error')]);
  expect(await snapshot(members, id, suite.trio.all)).toEqual(before);
});

it('answers 404 to a post for a group the home does not hold, and to a group_message for a group the receiver has no copy of', async () => {
  const bob = await person(suite.trio.b);
  const unknown = randomUUID();
  expect(await sendItems(suite.trio.b, suite.trio.a, [groupItems.post(unknown, { sender: bob.username, text: 'anyone?' })])).toEqual([refusal(404, 'not_found')]);
  expect(await sendItems(suite.trio.a, suite.trio.b, [groupItems.message(unknown, { sender: `nobody@a`, text: 'nowhere', position: 1 })])).toEqual([refusal(404, 'not_found')]);
  expect(await versionOn(suite.trio.b, unknown)).toBeUndefined();
});

it('answers a replayed transaction and a repeated item as the first time, and stores the post once everywhere', async () => {
  const { alice, bob, id, members } = await trustedGroup();
  const post = groupItems.post(id, { sender: bob.username, text: 'said once' });
  const request = transactionRequest({ key: pairKey(suite.trio.b, suite.trio.a), items: [post], origin: 'b', destination: 'a' });

  const first = await postTransaction(suite.trio.a.url, request);
  expect(first.status).toBe(200);
  expect(first.body.results).toEqual([{ id: post.id, status: 200 }]);
  const again = await postTransaction(suite.trio.a.url, request);
  expect(again.status).toBe(200);
  expect(again.body).toEqual(first.body);
  // The same item in a new transaction, and the same message under a new item id.
  expect(await sendItems(suite.trio.b, suite.trio.a, [post])).toEqual([{ id: post.id, status: 200 }]);
  const sameMessage = { ...post, id: randomUUID() };
  expect(await sendItems(suite.trio.b, suite.trio.a, [sameMessage])).toEqual([{ id: sameMessage.id, status: 200 }]);

  const elsewhere = members.filter((member) => member !== bob);
  await historiesAre(elsewhere, id, [`${alice.address}: hello`, `${bob.address}: said once`]);
  await alice.api.sent(alice, id, 'after the replays');
  await historiesAre(elsewhere, id, [`${alice.address}: hello`, `${bob.address}: said once`, `${alice.address}: after the replays`]);
  // The post was made with b's key but never on b: b refuses it from the home, as a post in the
  // name of one of its users that it never sent (the home believes b about b's users; b believes
  // only itself).
  await historiesAre([bob], id, [`${alice.address}: hello`, `${alice.address}: after the replays`]);
});
