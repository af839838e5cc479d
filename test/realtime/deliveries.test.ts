// One event to many users, directly: the bus hands it to the gateway once with everyone it goes
// to (and to per-user listeners once each, with their own seq), and the registry encodes it once
// for all their sockets, writing per user only a seq of their own.
import { describe, expect, it } from 'vitest';
import { InProcessEventBus, type Delivery, type RealtimeEvent } from '../../src/realtime/bus.js';
import type { Connection } from '../../src/realtime/gateway/connection.js';
import { ConnectionRegistry } from '../../src/realtime/gateway/registry.js';

/** A socket as the registry sees it: what went to its feed stream, and what was sent past it. */
function fakeConnection(withStream = true) {
  const offered: { seq: number; prev: number | undefined; frame: unknown; data: string | Buffer }[] = [];
  const sent: unknown[] = [];
  const connection = {
    userId: 0,
    username: '',
    tokenId: 0,
    stream: withStream ? { offer: (seq: number, prev: number | undefined, data: string | Buffer) => offered.push({ seq, prev, frame: JSON.parse(data.toString()), data }) } : undefined,
    send: (data: string | Buffer) => sent.push(JSON.parse(data.toString())),
  };
  return { connection: connection as unknown as Connection, offered, sent };
}

describe('an event for many users on the in-process bus', () => {
  it('reaches a deliveries listener once, and per-user listeners once each with their own seq', async () => {
    const bus = new InProcessEventBus();
    const batches: (readonly Delivery[])[] = [];
    const perUser: [number, RealtimeEvent, unknown][] = [];
    bus.subscribeDeliveries((deliveries) => batches.push(deliveries));
    bus.subscribe((userId, event, order) => perUser.push([userId, event, order]));
    const event = { type: 'read', seq: 10, group: 'g', user: 'alice', up_to: 7 };

    await bus.publishToMany([{ userId: 1, prev: 3, seq: 10 }, { userId: 2, seq: 12 }, { userId: 3 }], event);
    await bus.publishToMany([], event);

    expect(batches).toEqual([[{ userId: 1, prev: 3, seq: 10 }, { userId: 2, seq: 12 }, { userId: 3 }]]);
    expect(perUser).toEqual([
      [1, { ...event, seq: 10 }, { prev: 3 }],
      [2, { ...event, seq: 12 }, undefined],
      [3, event, undefined],
    ]);
    await bus.close();
  });
});

describe('the registry delivering one event to many users', () => {
  const alice = { id: 1, username: 'alice' };
  const bob = { id: 2, username: 'bob' };

  it('encodes a shared event once for every socket, through each socket’s feed stream', () => {
    const registry = new ConnectionRegistry(32, undefined);
    const [phone, laptop, bobs] = [fakeConnection(), fakeConnection(), fakeConnection()];
    registry.admit(phone.connection, alice, 1);
    registry.admit(laptop.connection, alice, 2);
    registry.admit(bobs.connection, bob, 3);
    const event = { type: 'message', seq: 40, message: { id: 40, message: 'hi' } };

    registry.deliver([{ userId: 1, prev: 30 }, { userId: 2, prev: 35 }, { userId: 99, prev: 1 }], event);

    expect(phone.offered.map(({ seq, prev, frame }) => ({ seq, prev, frame }))).toEqual([{ seq: 40, prev: 30, frame: event }]);
    expect(laptop.offered.map(({ seq, prev }) => [seq, prev])).toEqual([[40, 30]]);
    expect(bobs.offered.map(({ seq, prev }) => [seq, prev])).toEqual([[40, 35]]);
    // One encoding, the same bytes for every socket.
    expect(new Set([phone, laptop, bobs].map((socket) => socket.offered[0]!.data)).size).toBe(1);
  });

  it('writes each user’s own seq into the frame when the deliveries carry one, the rest shared', () => {
    const registry = new ConnectionRegistry(32, undefined);
    const [alices, bobs] = [fakeConnection(), fakeConnection()];
    registry.admit(alices.connection, alice, 1);
    registry.admit(bobs.connection, bob, 2);
    const event = { type: 'group', seq: 50, group: { id: 'g', name: 'Trip "2027"', members: [{ user: 'alice' }] } };

    registry.deliver([{ userId: 1, prev: 41, seq: 50 }, { userId: 2, prev: 44, seq: 51 }], event);

    expect(alices.offered.map(({ seq, prev, frame }) => ({ seq, prev, frame }))).toEqual([{ seq: 50, prev: 41, frame: event }]);
    expect(bobs.offered.map(({ seq, prev, frame }) => ({ seq, prev, frame }))).toEqual([{ seq: 51, prev: 44, frame: { ...event, seq: 51 } }]);
  });

  it('sends an event without a seq (typing, presence) past the feed stream, as it comes', () => {
    const registry = new ConnectionRegistry(32, undefined);
    const [withStream, starting] = [fakeConnection(), fakeConnection(false)];
    registry.admit(withStream.connection, alice, 1);
    registry.admit(starting.connection, bob, 2);
    const typing = { type: 'typing', from: 'carol', group: 'g' };

    registry.deliver([{ userId: 1 }, { userId: 2 }], typing);

    expect([withStream.sent, starting.sent]).toEqual([[typing], [typing]]);
    expect(withStream.offered).toEqual([]);
  });
});
