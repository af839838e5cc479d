// The change feed with two instances writing to one PostgreSQL at once: seqs commit in order,
// so a client polling the feed never steps over one that commits later, and sockets on either
// instance get every event once, in order, although the events cross instances through Redis.
import { afterEach, describe, expect, it } from 'vitest';
import type { TestApp } from '../helpers/app.js';
import { postgresUrl, redisUrl } from '../helpers/databases.js';
import { call, registerUser, type RegisteredUser } from '../helpers/http.js';
import { openSocket, type TestSocket } from '../realtime/socket.js';
import { startCluster, type Cluster } from './cluster.js';

const title = postgresUrl && redisUrl ? 'the change feed on several instances' : 'the change feed on several instances (skipped: set TEST_DATABASE_URL and TEST_REDIS_URL to run)';

describe.skipIf(!postgresUrl || !redisUrl)(title, () => {
  const open: TestSocket[] = [];
  let cluster: Cluster | undefined;

  afterEach(async () => {
    await Promise.all(open.splice(0).map((socket) => socket.close()));
    await cluster?.destroy();
    cluster = undefined;
  });

  it('assigns seqs on two instances at once without a gap a client could miss', async () => {
    cluster = await startCluster({ count: 2, database: 'postgres', redisUrl: redisUrl!, env: { SEND_RATE: 'off' } });
    const [one, two] = cluster.instances as [TestApp, TestApp];
    const [alice, bob, carol] = await Promise.all([registerUser(one.url), registerUser(one.url), registerUser(two.url)]);

    const seen = new Map<TestSocket, number[]>();
    for (const app of [one, two]) {
      const socket = await openSocket(app.url, alice.token);
      open.push(socket);
      const seqs: number[] = [];
      socket.ws.on('message', (data) => {
        const frame = JSON.parse(data.toString()) as { seq?: number };
        if (typeof frame.seq === 'number') seqs.push(frame.seq);
      });
      seen.set(socket, seqs);
      await socket.roundTrip();
    }

    const writer = async (app: TestApp, from: RegisteredUser, count: number, inFlight: number) => {
      for (let i = 0; i < count; i += inFlight) {
        await Promise.all(
          Array.from({ length: inFlight }, (_, j) =>
            call(app.url, 'POST', '/accounts/send-message/', { message: `${from.username} ${i + j}`, receiver: alice.username }, { token: from.token }),
          ),
        );
      }
    };
    let writing = true;
    const writers = Promise.all([writer(one, bob, 400, 20), writer(two, carol, 400, 20)]).finally(() => (writing = false));

    // A client that polls the feed as fast as it can, on either instance, from the last seq it saw.
    const polled: number[] = [];
    let after = 0;
    for (let round = 0; ; round++) {
      const stillWriting = writing;
      const app = round % 2 === 0 ? one : two;
      const page = await call(app.url, 'GET', `/accounts/events/?after=${after}&limit=50`, undefined, { token: alice.token });
      expect(page.status).toBe(200);
      for (const event of page.body.results as { seq: number }[]) polled.push(event.seq);
      after = polled.at(-1) ?? after;
      if (!stillWriting && page.body.next === null) break;
    }
    await writers;

    const all: number[] = [];
    for (let cursor: number | null = 0; cursor !== null; ) {
      const page = await call(one.url, 'GET', `/accounts/events/?after=${cursor}`, undefined, { token: alice.token });
      all.push(...(page.body.results as { seq: number }[]).map((event) => event.seq));
      cursor = page.body.next as number | null;
    }
    expect(all).toHaveLength(800);
    expect(all).toEqual([...all].sort((x, y) => x - y));
    // Each poll started after the last seq seen: had a smaller seq committed later, it would be missing here.
    expect(polled).toEqual(all);
    for (const [socket, seqs] of seen) {
      await socket.next((frame) => frame.seq === all.at(-1), 20_000);
      expect(seqs).toEqual(all);
    }
  });
});
