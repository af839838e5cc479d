// Faults around a group homed on a (issue 18, point 6): the home down while members on b and c
// post (their posts wait queued and are ordered when it is back), and a member's backend down
// while the others post, rename and add (the home's outbox catches it up in order). Each test ends
// with a count of each member's messages on every backend: every message once, in the same order.
// Then one-way outages through a proxy: a delete racing the home's copy of a post, and unread
// counts when the home orders messages before a post a member has already read.
import { afterEach, expect, it } from 'vitest';
import { captureLog } from '../../helpers/log.js';
import { describeEachDatabase, type DatabaseKind } from '../../helpers/databases.js';
import { RecordingProxy } from '../../helpers/recording-proxy.js';
import { expectEveryMessageOnce, group, historiesAre, historyOf, membership, person, seenAlikeBy, startTrio, type Person, type Trio } from './support.js';

let trio: Trio | undefined;

afterEach(async () => {
  await Promise.all(trio?.all.map((backend) => backend.destroy()) ?? []);
  trio = undefined;
});

/** Sends the texts one after the other; answers each send's status. */
async function postAll(poster: Person, id: string, texts: string[]): Promise<string[]> {
  const statuses: string[] = [];
  for (const text of texts) {
    const sent = await poster.api.send(poster, id, text);
    expect(sent.status, JSON.stringify(sent.body)).toBe(201);
    statuses.push(sent.body.status as string);
  }
  return statuses;
}

/**
 * Starts the trio with `from` reaching `to` through a proxy (the other way round directly), and
 * runs `test` with it; the proxy is closed after.
 */
async function withProxy(database: DatabaseKind, from: string, to: string, test: (proxy: RecordingProxy) => Promise<void>): Promise<void> {
  const proxy = await new RecordingProxy().listen();
  try {
    trio = await startTrio(database, { peers: (name, peers) => (name === from ? peers.map((peer) => (peer.name === to ? { ...peer, url: proxy.url } : peer)) : peers) });
    proxy.target = trio.all.find((backend) => backend.name === to)!.url;
    await test(proxy);
  } finally {
    await proxy.close();
  }
}

const burst = (who: string, count: number) => Array.from({ length: count }, (_, index) => `${who} ${index + 1}`);

it('queues the posts of b and c while the home is down and orders them all when it is back, each once', async () => {
  trio = await startTrio();
  const [alice, bob, carol] = await Promise.all([person(trio.a), person(trio.b), person(trio.c)]);
  const { id } = await group(alice, 'Home down', [bob, carol]);
  await alice.api.sent(alice, id, 'before');
  await historiesAre([alice, bob, carol], id, [`${alice.address}: before`]);

  await trio.a.stop();
  const fromB = burst('bob', 5);
  const fromC = burst('carol', 5);
  const statuses = await Promise.all([postAll(bob, id, fromB), postAll(carol, id, fromC)]);
  expect(statuses.flat()).toEqual(Array(10).fill('queued'));
  // The poster's backend shows its posts at once, queued, after what the home had ordered.
  expect((await historyOf(bob, id)).map((line) => `${line.message}/${line.status}`)).toEqual(['before/delivered', ...fromB.map((text) => `${text}/queued`)]);

  await trio.a.start();
  await expectEveryMessageOnce([alice, bob, carol], id, [
    [alice, ['before']],
    [bob, fromB],
    [carol, fromC],
  ]);
  for (const member of [bob, carol]) expect((await historyOf(member, id)).every((line) => line.status === 'delivered')).toBe(true);
});

it('catches up a member’s backend that was down, in order: messages from a and b, and a rename', async () => {
  trio = await startTrio();
  const [alice, bob, carol] = await Promise.all([person(trio.a), person(trio.b), person(trio.c)]);
  const { id } = await group(alice, 'Member down', [bob, carol]);
  await carol.api.sent(carol, id, 'see you');
  await historiesAre([alice, bob, carol], id, [`${carol.address}: see you`]);

  await trio.c.stop();
  const fromA = burst('alice', 6);
  const fromB = burst('bob', 6);
  const [statusesA, statusesB] = await Promise.all([postAll(alice, id, fromA), postAll(bob, id, fromB)]);
  // The home stores its own at once, and b's reach the home, which is up.
  expect([...statusesA, ...statusesB]).toEqual(Array(12).fill('delivered'));
  expect((await alice.api.rename(alice, id, 'Renamed while c was down')).status).toBe(200);
  const sentBy: [Person, string[]][] = [
    [carol, ['see you']],
    [alice, fromA],
    [bob, fromB],
  ];
  const atHome = await expectEveryMessageOnce([alice, bob], id, sentBy);

  await trio.c.start();
  expect(await expectEveryMessageOnce([alice, bob, carol], id, sentBy)).toEqual(atHome);
  await seenAlikeBy([alice, bob, carol], id, (seen) => expect(seen.name).toBe('Renamed while c was down'), 30_000);
});

it('brings a member of c added while c is down the group and what was sent after, once c is back', async () => {
  trio = await startTrio();
  const [alice, bob, carol] = await Promise.all([person(trio.a), person(trio.b), person(trio.c)]);
  const { id } = await group(alice, 'Late joiner', [bob]);
  await trio.c.stop();
  const added = await membership.add(alice, id, carol);
  expect(added.status, JSON.stringify(added.body)).toBe(200);
  await bob.api.sent(bob, id, 'carol is added');

  await trio.c.start();
  await seenAlikeBy([alice, bob, carol], id, (seen) => expect(seen.members.map((member) => member.user)).toContain(carol.address), 30_000);
  await expectEveryMessageOnce([alice, bob, carol], id, [[bob, ['carol is added']]]);
});

it('counts unread and moves a read position on a member’s backend in the home’s order, not in the order messages reached it', async () => {
  trio = await startTrio();
  const [alice, bob, dave] = await Promise.all([person(trio.a), person(trio.b), person(trio.b)]);
  const { id } = await group(alice, 'Order of arrival', [bob, dave]);
  await alice.api.sent(alice, id, 'before');
  await historiesAre([alice, bob, dave], id, [`${alice.address}: before`]);

  // bob posts while the home is down; b retries it after 0.5, 1 and 2 s (no jitter here), then
  // waits 4 s: alice's post, made as soon as the home is back, reaches b first with a later id,
  // though the home orders it before bob's.
  await trio.a.stop();
  expect(await postAll(bob, id, ['queued 1', 'queued 2'])).toEqual(['queued', 'queued']);
  await new Promise((resolve) => setTimeout(resolve, 4000));
  await trio.a.start();
  await alice.api.sent(alice, id, 'after the restart');
  const texts = [`${alice.address}: before`, `${alice.address}: after the restart`, `${bob.address}: queued 1`, `${bob.address}: queued 2`];
  await historiesAre([alice, bob, dave], id, texts, 30_000);

  // On b, dave reads up to bob's first post: alice's later-arriving post lies before it, so
  // only bob's second is left unread; reading alice's post then is no move back.
  const onB = (await dave.api.history(dave, id, '&limit=200')).body.results as { id: number; message: string }[];
  const idOf = (text: string) => onB.find((message) => message.message === text)!.id;
  expect(idOf('after the restart')).toBeGreaterThan(idOf('queued 1'));
  const unread = async () =>
    ((await dave.api.as(dave, 'GET', '/accounts/conversations/')).body.results as { group: { id: string } | null; unread: number }[]).find((row) => row.group?.id === id)!.unread;
  expect(await unread()).toBe(4);
  expect((await dave.api.as(dave, 'POST', `/accounts/messages/${idOf('queued 1')}/read/`)).status).toBe(200);
  expect(await unread()).toBe(1);
  expect((await dave.api.as(dave, 'POST', `/accounts/messages/${idOf('after the restart')}/read/`)).status).toBe(200);
  expect(await unread()).toBe(1);
}, 60_000);

it('never sends a member’s backend that was down a message deleted before it could go, and takes its 404 to the delete for nothing to change', async () => {
  trio = await startTrio();
  const [alice, bob, carol] = await Promise.all([person(trio.a), person(trio.b), person(trio.c)]);
  const { id } = await group(alice, 'Withdrawn', [bob, carol]);
  await carol.api.sent(carol, id, 'hello');
  await historiesAre([alice, bob, carol], id, [`${carol.address}: hello`]);

  // The home's log from here on: its refusals by peers are warnings.
  await trio.a.stop();
  const log = captureLog('warn');
  await trio.a.start({}, { outbox: { random: () => 0, pollIntervalMs: 50 }, logger: log.logger });
  await trio.c.stop();
  const withdrawn = await alice.api.sent(alice, id, 'withdrawn, v1');
  expect((await alice.api.as(alice, 'PATCH', `/accounts/messages/${withdrawn}/`, { message: 'withdrawn, v2' })).status).toBe(200);
  expect((await alice.api.as(alice, 'DELETE', `/accounts/messages/${withdrawn}/`)).status).toBe(204);
  await alice.api.sent(alice, id, 'kept');

  await trio.c.start();
  // The home and b keep the deleted message's tombstone; c never gets it.
  const kept = [`${carol.address}: hello`, `${alice.address}: kept`];
  await historiesAre([carol], id, kept, 30_000);
  await historiesAre([alice, bob], id, [`${carol.address}: hello`, `${alice.address}: `, `${alice.address}: kept`]);
  // c never had the message: the delete (sent, as an earlier try might have reached c) found nothing to change, which is no warning.
  expect(log.entries().filter((entry) => entry.msg === 'outbox: the peer refused an item')).toEqual([]);
}, 60_000);

it('deletes a post on its poster’s backend when the home deleted it before the home’s copy of it left', async () => {
  // The home reaches b through the proxy; b reaches the home directly.
  await withProxy('sqlite', 'a', 'b', async (proxy) => {
    const [alice, bob, carol] = await Promise.all([person(trio!.a), person(trio!.b), person(trio!.c)]);
    const { id } = await group(alice, 'Moderated', [bob, carol]);
    await historiesAre([alice, bob, carol], id, []);

    // bob's post reaches the home, whose copy of it (with its place) cannot reach b.
    proxy.drop('before');
    expect(await postAll(bob, id, ['taken back'])).toEqual(['delivered']);
    await historiesAre([alice, carol], id, [`${bob.address}: taken back`]);
    const onHome = (await alice.api.history(alice, id)).body.results[0] as { id: number };
    expect((await alice.api.as(alice, 'DELETE', `/accounts/messages/${onHome.id}/`)).status).toBe(204);

    proxy.drop(undefined);
    // b stored bob's post as he sent it: the home's delete reaches it there too, and b, which
    // never got its place, leaves it out (alive, it would stay there with its text).
    await historiesAre([alice, carol], id, [`${bob.address}: `]);
    await historiesAre([bob], id, [], 30_000);
  });
}, 60_000);

describeEachDatabase('a read position ahead of the home’s order', (database) => {
  it('counts nothing unread for a member who read up to a post of their backend the home had not ordered yet, when messages it placed before that post arrive', async () => {
    // c reaches the home through the proxy; the home reaches c directly.
    await withProxy(database, 'c', 'a', async (proxy) => {
      const [alice, carol, dave] = await Promise.all([person(trio!.a), person(trio!.c), person(trio!.c)]);
      const { id } = await group(alice, 'Read ahead', [carol, dave]);
      await historiesAre([alice, carol, dave], id, []);

      proxy.drop('before');
      expect(await postAll(carol, id, ['from c, not yet ordered'])).toEqual(['queued']);
      const onC = (await dave.api.history(dave, id)).body.results as { id: number }[];
      expect((await dave.api.as(dave, 'POST', `/accounts/messages/${onC[0]!.id}/read/`)).status).toBe(200);
      const unread = async () =>
        ((await dave.api.conversations(dave)).body.results as { group: { id: string } | null; unread: number }[]).find((row) => row.group?.id === id)!.unread;
      expect(await unread()).toBe(0);
      // The home orders alice's post first: on c it lies before carol's, which dave has read past.
      await alice.api.sent(alice, id, 'from the home');
      await historiesAre([dave], id, [`${alice.address}: from the home`, `${carol.address}: from c, not yet ordered`]);
      expect(await unread()).toBe(0);

      proxy.drop(undefined);
      await historiesAre([alice, carol, dave], id, [`${alice.address}: from the home`, `${carol.address}: from c, not yet ordered`], 30_000);
      expect(await unread()).toBe(0);
    });
  }, 60_000);

  it('counts as unread a message the home placed after a post its member read before the home had ordered it, when both arrive together', async () => {
    // The home reaches b through the proxy; b reaches the home directly.
    await withProxy(database, 'a', 'b', async (proxy) => {
      const [alice, bob, dave] = await Promise.all([person(trio!.a), person(trio!.b), person(trio!.b)]);
      const { id } = await group(alice, 'Read, then ordered', [bob, dave]);
      await historiesAre([alice, bob, dave], id, []);

      proxy.drop('before');
      // bob's post reaches the home, then alice's, placed after it; neither place reaches b yet.
      expect(await postAll(bob, id, ['from b'])).toEqual(['delivered']);
      await alice.api.sent(alice, id, 'from the home, after');
      // dave reads bob's post, not yet ordered on b: his marker comes back from the home after
      // both, so that the two reach b together, in one run of new messages.
      const onB = (await dave.api.history(dave, id)).body.results as { id: number }[];
      expect((await dave.api.as(dave, 'POST', `/accounts/messages/${onB[0]!.id}/read/`)).status).toBe(200);
      proxy.drop(undefined);
      await historiesAre([alice, bob, dave], id, [`${bob.address}: from b`, `${alice.address}: from the home, after`], 30_000);
      const unread = async () =>
        ((await dave.api.conversations(dave)).body.results as { group: { id: string } | null; unread: number }[]).find((row) => row.group?.id === id)!.unread;
      expect(await unread()).toBe(1);
    });
  }, 60_000);

  it('counts as unread for a member added meanwhile the posts of their backend the home had not ordered yet', async () => {
    // c reaches the home through the proxy; the home reaches c directly.
    await withProxy(database, 'c', 'a', async (proxy) => {
      const [alice, carol, dave] = await Promise.all([person(trio!.a), person(trio!.c), person(trio!.c)]);
      const { id } = await group(alice, 'Joined meanwhile', [carol]);
      await alice.api.sent(alice, id, 'before');
      await historiesAre([alice, carol], id, [`${alice.address}: before`]);

      proxy.drop('before');
      expect(await postAll(carol, id, ['from c, not yet ordered'])).toEqual(['queued']);
      // dave joins at the home before carol's post reaches it: the home places it after he joined.
      expect((await membership.add(alice, id, dave)).status).toBe(200);
      await seenAlikeBy([dave], id, (seen) => expect(seen.members.map((member) => member.user)).toContain(dave.address), 30_000);
      proxy.drop(undefined);
      await historiesAre([alice], id, [`${alice.address}: before`, `${carol.address}: from c, not yet ordered`], 30_000);
      await alice.api.sent(alice, id, 'after');
      const texts = [`${alice.address}: before`, `${carol.address}: from c, not yet ordered`, `${alice.address}: after`];
      await historiesAre([alice, carol, dave], id, texts, 30_000);
      const unread = async () =>
        ((await dave.api.conversations(dave)).body.results as { group: { id: string } | null; unread: number }[]).find((row) => row.group?.id === id)!.unread;
      expect(await unread()).toBe(2);
    });
  }, 60_000);
});
