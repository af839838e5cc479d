// A group whose home runs as two instances on one PostgreSQL database and one Redis, with members
// on b and c (SQLite): messages posted through either instance and from b and c reach every
// member's socket once and read the same everywhere; a removal asked through the second instance
// ends the removed member's events on c and drops c's copy. b and c reach the home through a
// proxy in front of its first instance.
import { randomBytes } from 'node:crypto';
import { afterEach, expect, it } from 'vitest';
import { newKey, type TestApp } from '../../helpers/app.js';
import { startBackends, type Backend } from '../../helpers/backends.js';
import { postgresUrl, redisUrl } from '../../helpers/databases.js';
import { RecordingProxy } from '../../helpers/recording-proxy.js';
import type { TestSocket } from '../../realtime/socket.js';
import { startCluster, type Cluster } from '../../multi-instance/cluster.js';
import { groupsClient } from '../../groups/client.js';
import { connect, eventually, expectEveryMessageOnce, expectGone, group, membership, messageTexts, ofType, person, seenAlikeBy, versionOn } from './support.js';

const runnable = Boolean(postgresUrl && redisUrl);
const title = runnable
  ? 'a group homed on two PostgreSQL instances, with members on b and c'
  : 'a group homed on two PostgreSQL instances, with members on b and c (skipped: set TEST_DATABASE_URL and TEST_REDIS_URL to run)';

const open: TestSocket[] = [];
let cluster: Cluster | undefined;
let members: Backend[] = [];
let proxy: RecordingProxy | undefined;

afterEach(async () => {
  await Promise.all(open.splice(0).map((socket) => socket.close()));
  await cluster?.destroy();
  await Promise.all(members.map((backend) => backend.destroy()));
  await proxy?.close();
  cluster = undefined;
  members = [];
  proxy = undefined;
});

it.skipIf(!runnable)(`${title}: carries messages from both instances, b and c to everyone once, and a removal through the second instance`, async () => {
  // The event channel is named after the server: a unique home name keeps parallel runs apart.
  const home = `a${randomBytes(4).toString('hex')}`;
  const keys = { b: newKey(), c: newKey() };
  proxy = await new RecordingProxy().listen();
  members = await startBackends('sqlite', ['b', 'c'], {
    env: { FEDERATION_TIMEOUT: '2s', SEND_RATE: 'off' },
    server: { outbox: { random: () => 0, pollIntervalMs: 50 } },
    peers: (name, peers) => [...peers, { name: home, url: proxy!.url, key: keys[name as 'b' | 'c'] }],
  });
  const [b, c] = members as [Backend, Backend];
  cluster = await startCluster({
    count: 2,
    database: 'postgres',
    redisUrl: redisUrl!,
    env: {
      SERVER_NAME: home,
      SEND_RATE: 'off',
      FEDERATION_TIMEOUT: '2s',
      PEERS: JSON.stringify([
        { name: 'b', url: b.url, key: keys.b },
        { name: 'c', url: c.url, key: keys.c },
      ]),
    },
    server: { outbox: { random: () => 0, pollIntervalMs: 50 } },
  });
  const [one, two] = cluster.instances as [TestApp, TestApp];
  proxy.target = one.url;

  const alice = await person({ name: home, url: one.url });
  const erin = await person({ name: home, url: two.url });
  const [bob, carol] = await Promise.all([person(b), person(c)]);
  const everyone = [alice, erin, bob, carol];
  const { id } = await group(alice, 'Two instances at home', [erin, bob, carol]);
  await seenAlikeBy(everyone, id, (seen) => expect(seen.members).toHaveLength(4));
  const sockets = await Promise.all(everyone.map((member) => connect(member, open)));

  await alice.api.sent(alice, id, 'from instance one');
  await erin.api.sent(erin, id, 'from instance two');
  await bob.api.sent(bob, id, 'from b');
  await carol.api.sent(carol, id, 'from c');
  await expectEveryMessageOnce(everyone, id, [
    [alice, ['from instance one']],
    [erin, ['from instance two']],
    [bob, ['from b']],
    [carol, ['from c']],
  ]);
  for (const socket of sockets) {
    await eventually(async () => expect([...messageTexts(socket, id)].sort()).toEqual(['from b', 'from c', 'from instance one', 'from instance two']));
  }

  // carol is removed through the second instance: her socket on c hears it, and c drops its copy.
  const carols = sockets[3]!;
  const aliceThroughTwo = { ...alice, backend: { name: home, url: two.url }, api: groupsClient(two.url) };
  expect((await membership.remove(aliceThroughTwo, id, carol)).status).toBe(204);
  await carols.next(ofType('group_left'), 10_000);
  await expectGone(carol, id);
  await eventually(async () => expect(await versionOn(c, id)).toBeUndefined());
  await bob.api.sent(bob, id, 'carol has left');
  await sockets[0]!.next(ofType('message', (frame) => (frame.message as { message: string }).message === 'carol has left'), 10_000);
  await carols.roundTrip();
  expect(messageTexts(carols, id)).not.toContain('carol has left');
  await seenAlikeBy([alice, erin, bob], id, (seen) => expect(seen.members).toHaveLength(3));
});
