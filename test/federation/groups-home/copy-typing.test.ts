// Typing in a group homed elsewhere (groups.md, design-18): a member's backend b sends its users'
// indicators to the home, and passes the home's relayed ones (a member of any backend, qualified)
// to its own members' sessions; from any other peer they are dropped.
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../helpers/app.js';
import { describeEachDatabase } from '../../helpers/databases.js';
import { registerUser, type RegisteredUser } from '../../helpers/http.js';
import { openSocket, type TestSocket } from '../../realtime/socket.js';
import { fakeMember, statuses, type FakeMember } from './fake-member.js';

describeEachDatabase('typing in a copy of a group', (database) => {
  let b: TestApp;
  let home: FakeMember;
  let other: FakeMember;
  let bob: RegisteredUser;
  let dave: RegisteredUser;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    [home, other] = await Promise.all([fakeMember('a', () => b.url, 'b'), fakeMember('c', () => b.url, 'b')]);
    const peers = [home, other].map((peer) => ({ name: peer.name, url: peer.url, key: peer.key }));
    b = await startTestApp({ database, env: { SERVER_NAME: 'b', PEERS: JSON.stringify(peers) } });
    [bob, dave] = await Promise.all([registerUser(b.url, 'bob'), registerUser(b.url, 'dave')]);
  });
  afterEach(async () => {
    await Promise.all(sockets.splice(0).map((socket) => socket.close()));
  });
  afterAll(async () => {
    await b?.destroy();
    await Promise.all([home?.close(), other?.close()]);
  });

  async function connect(user: RegisteredUser): Promise<TestSocket> {
    const socket = await openSocket(b.url, user.token);
    sockets.push(socket);
    await socket.roundTrip();
    return socket;
  }

  it('sends a member’s indicator to the home, and passes the home’s to the local members', async () => {
    const group = randomUUID();
    const joined = '2026-11-01T00:00:00.000Z';
    const state = {
      type: 'group_state',
      id: randomUUID(),
      group,
      name: 'trip',
      version: 1,
      created_at: joined,
      members: ['alice@a', 'bob@b', 'dave@b'].map((user, index) => ({ user, role: index === 0 ? 'owner' : 'member', joined_at: joined })),
    };
    expect(statuses(await home.send([state]))).toEqual([[200, undefined]]);
    const [bobs, daves] = await Promise.all([connect(bob), connect(dave)]);

    bobs.send({ type: 'typing', group });
    expect(await daves.next((frame) => frame.type === 'typing')).toMatchObject({ from: 'bob', group });
    const sent = await home.waitFor((items) => items.some((item) => item.type === 'typing'), 'bob’s indicator');
    expect(sent.find((item) => item.type === 'typing')).toMatchObject({ from: 'bob', group });

    // Only the home speaks for its group.
    expect(statuses(await other.send([{ type: 'typing', id: randomUUID(), from: 'mallory@c', group }]))).toEqual([[200, undefined]]);
    expect(statuses(await home.send([{ type: 'typing', id: randomUUID(), from: 'carol@c', group }]))).toEqual([[200, undefined]]);
    const relayed = await bobs.next((frame) => frame.type === 'typing');
    expect(relayed).toMatchObject({ from: 'carol@c', group });
  });
});
