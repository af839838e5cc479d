// A group whose members are connected to two instances sharing PostgreSQL and Redis: its events
// reach every member's sessions on either instance, each with its seq; a member removed through
// one instance stops getting the group's events at once on the other.
import { afterEach, expect, it } from 'vitest';
import type { TestApp } from '../helpers/app.js';
import { postgresUrl, redisUrl } from '../helpers/databases.js';
import { registerUser, type RegisteredUser } from '../helpers/http.js';
import { openSocket, type TestSocket } from '../realtime/socket.js';
import { groupsClient } from '../groups/client.js';
import { startCluster, type Cluster } from './cluster.js';

const title = postgresUrl && redisUrl ? 'a group across two instances' : 'a group across two instances (skipped: set TEST_DATABASE_URL and TEST_REDIS_URL to run)';

type Frame = Record<string, unknown>;
const ofType = (type: string, extra: (frame: Frame) => boolean = () => true) => (frame: Frame) => frame.type === type && extra(frame);

const open: TestSocket[] = [];
let cluster: Cluster | undefined;

afterEach(async () => {
  await Promise.all(open.splice(0).map((socket) => socket.close()));
  await cluster?.destroy();
  cluster = undefined;
});

async function connect(app: TestApp, user: RegisteredUser): Promise<TestSocket> {
  const socket = await openSocket(app.url, user.token);
  open.push(socket);
  await socket.roundTrip();
  return socket;
}

it.skipIf(!postgresUrl || !redisUrl)(`${title}: reaches a member on each instance, and a removal through one ends the events on the other`, async () => {
  cluster = await startCluster({ count: 2, database: 'postgres', redisUrl: redisUrl! });
  const [one, two] = cluster.instances as [TestApp, TestApp];
  const [alice, bob, carol] = await Promise.all([registerUser(one.url), registerUser(two.url), registerUser(one.url)]);
  const [alices, bobs, carols] = [await connect(one, alice), await connect(two, bob), await connect(two, carol)];
  const viaOne = groupsClient(one.url);
  const viaTwo = groupsClient(two.url);

  const group = await viaOne.group(alice, 'Two instances', [bob, carol]);
  expect(await bobs.next(ofType('group'))).toEqual({ type: 'group', seq: expect.any(Number), group });

  const fromOne = await viaOne.sent(alice, group.id, 'from instance one');
  for (const socket of [bobs, carols, alices]) {
    expect(await socket.next(ofType('message'))).toMatchObject({ seq: fromOne, message: { id: fromOne, group: group.id, sender: alice.username } });
  }
  const fromTwo = await viaTwo.sent(bob, group.id, 'from instance two');
  expect(await alices.next(ofType('message'))).toMatchObject({ seq: fromTwo, message: { message: 'from instance two' } });
  await viaOne.as(alice, 'POST', `/accounts/messages/${fromTwo}/read/`);
  expect(await bobs.next(ofType('read'))).toEqual({ type: 'read', seq: expect.any(Number), group: group.id, user: alice.username, up_to: fromTwo });
  alices.send({ type: 'typing', group: group.id });
  expect(await bobs.next(ofType('typing'))).toEqual({ type: 'typing', from: alice.username, group: group.id });
  expect(await carols.next(ofType('typing'))).toEqual({ type: 'typing', from: alice.username, group: group.id });

  // carol's socket is on instance two; she is removed through instance one.
  expect((await viaOne.remove(alice, group.id, carol)).status).toBe(204);
  expect(await carols.next(ofType('group_left'))).toEqual({ type: 'group_left', seq: expect.any(Number), id: group.id });
  const after = await viaOne.sent(alice, group.id, 'carol is gone');
  await bobs.next(ofType('message', (frame) => frame.seq === after));
  await viaOne.rename(alice, group.id, 'One fewer');
  await bobs.next(ofType('group', (frame) => (frame.group as { name: string }).name === 'One fewer'));
  await carols.roundTrip();
  expect(carols.received.filter((frame) => frame.type !== 'pong' && frame.type !== 'presence')).toEqual([]);
});
