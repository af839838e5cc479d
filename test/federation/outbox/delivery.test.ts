// An outbox entry as a federation request: what it carries, and how a peer's answer ends or
// reschedules it.
import { pino } from 'pino';
import { describe, it, expect } from 'vitest';
import { generateKey } from '../../../src/crypto/keys.js';
import type { DeliveryOutcome, FederatedMessage } from '../../../src/federation/client.js';
import { federatedMessage, outboundMessage, PeerDelivery } from '../../../src/federation/outbox/delivery.js';
import type { ClaimedEntry } from '../../../src/federation/outbox/repository.js';
import { PeerDirectory, type Peer } from '../../../src/federation/peers.js';

const entry: ClaimedEntry = {
  entryId: 7,
  messageId: 42,
  peer: 'b',
  attempts: 3,
  createdAt: 1_700_000_000_000,
  uuid: '6f1c2a0e-8b1d-4c3e-9a57-2d0f4b6e8c11',
  senderUserId: 5,
  sender: 'alice',
  receiverName: 'bob',
  body: 'sealed',
  deleted: false,
  deliveryRefused: false,
  op: null,
};

describe('outboundMessage', () => {
  it('names the receiver as its peer knows them, without the text still sealed', () => {
    expect(outboundMessage(entry)).toEqual({
      entryId: 7,
      messageId: 42,
      uuid: entry.uuid,
      peer: 'b',
      senderUserId: 5,
      sender: 'alice',
      receiverName: 'bob',
      text: '',
      createdAt: entry.createdAt,
    });
  });

  it('carries a change, and a sender no longer known as user 0', () => {
    const message = outboundMessage({ ...entry, senderUserId: null, op: { kind: 'edit', id: 'edit-1' } });
    expect(message.senderUserId).toBe(0);
    expect(message.op).toEqual({ kind: 'edit', id: 'edit-1' });
  });
});

describe('federatedMessage', () => {
  it('sends a message under its own uuid', () => {
    expect(federatedMessage({ ...outboundMessage(entry), text: 'hi' })).toEqual({ id: entry.uuid, sender: 'alice', receiver: 'bob', text: 'hi', createdAt: entry.createdAt });
  });

  it('sends a change under its own id, naming the message it changes', () => {
    const message = outboundMessage({ ...entry, op: { kind: 'delete', id: 'delete-1' } });
    expect(federatedMessage(message)).toEqual({ id: 'delete-1', sender: 'alice', receiver: 'bob', text: '', createdAt: entry.createdAt, op: 'delete', ref: entry.uuid });
  });
});

describe('PeerDelivery', () => {
  const peers = new PeerDirectory([
    { name: 'b', url: 'http://127.0.0.1:1', key: generateKey(), previousKeys: [], compat: false },
    { name: 'old', url: 'http://127.0.0.1:2', key: generateKey(), previousKeys: [], compat: true },
  ]);

  function delivery(answer: DeliveryOutcome) {
    const sent: { peer: Peer; message: FederatedMessage }[] = [];
    const client = {
      deliver: (peer: Peer, message: FederatedMessage) => {
        sent.push({ peer, message });
        return Promise.resolve(answer);
      },
    };
    return { sent, delivery: new PeerDelivery(client, peers, pino({ level: 'silent' })) };
  }

  it.each<[string, DeliveryOutcome, unknown]>([
    ['accepted', { kind: 'delivered' }, { kind: 'ended', status: 'delivered', failureCode: null }],
    ['refused for good', { kind: 'failed', code: 'unknown_receiver' }, { kind: 'ended', status: 'failed', failureCode: 'unknown_receiver' }],
    ['out of reach', { kind: 'retry', reason: 'timed out' }, { kind: 'retry', reason: 'timed out' }],
  ])('sorts a peer that %s into what the worker does next', async (_what, answer, outcome) => {
    const { sent, delivery: peerDelivery } = delivery(answer);
    expect(await peerDelivery.attempt({ ...outboundMessage(entry), text: 'hi' })).toEqual(outcome);
    expect(sent.map(({ peer, message }) => [peer.name, message.id])).toEqual([['b', entry.uuid]]);
  });

  it('fails a message to a peer no longer configured, without trying', async () => {
    const { sent, delivery: peerDelivery } = delivery({ kind: 'delivered' });
    expect(await peerDelivery.attempt(outboundMessage({ ...entry, peer: 'gone', receiverName: 'bob' }))).toEqual({ kind: 'ended', status: 'failed', failureCode: 'unknown_peer' });
    expect(sent).toEqual([]);
  });

  it('fails a change to a peer running the original backend, which would store it as a new message', async () => {
    const { sent, delivery: peerDelivery } = delivery({ kind: 'delivered' });
    const change = outboundMessage({ ...entry, peer: 'old', op: { kind: 'edit', id: 'edit-1' } });
    expect(await peerDelivery.attempt(change)).toEqual({ kind: 'ended', status: 'failed', failureCode: 'unsupported_by_peer' });
    expect(sent).toEqual([]);
    // The message itself goes to such a peer.
    expect(await peerDelivery.attempt(outboundMessage({ ...entry, peer: 'old' }))).toEqual({ kind: 'ended', status: 'delivered', failureCode: null });
  });
});
