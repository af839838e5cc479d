// Edits and deletes: by the sender on this backend (PATCH/DELETE /accounts/messages/{id}/), and
// by a sender on a peer (an `op` on receive-message). Each change is written with its
// `message_updated` events and, for a message that went to a peer, an outbox entry behind it.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { sealAtRest, type KeyRing } from '../crypto/aead.js';
import { foldKey } from '../unicode/fold.js';
import type { Change } from '../feed/event-log.js';
import { FeedPublisher } from '../feed/publisher.js';
import type { Peer, PeerDirectory } from '../federation/peers.js';
import { Conflict, Forbidden, NotFound } from '../http/errors.js';
import type { EventBus } from '../realtime/bus.js';
import { remoteKey } from './addresses.js';
import type { MessageChange, MessageRow, MessagesRepository } from './repository.js';
import { checkReceivedText, checkText, type MessageView } from './service.js';

export interface InboundChange {
  peer: Peer;
  op: 'edit' | 'delete';
  senderName: string;
  receiverName: string;
  /** The id the changed message was delivered with. */
  ref: string;
  /** The new text of an edit. */
  text?: string;
  requestKey: string;
}

export interface MessageChangesOptions {
  repository: MessagesRepository;
  ring: KeyRing;
  peers: PeerDirectory;
  bus: EventBus;
  /** A stored message as clients see it. */
  render(row: MessageRow): MessageView;
  /** There are new outbox entries. */
  wakeDelivery(): void;
  logger: Logger;
  clock?: () => number;
}

export class MessageChanges {
  private readonly options: MessageChangesOptions;
  private readonly publisher: FeedPublisher;
  private readonly clock: () => number;

  constructor(options: MessageChangesOptions) {
    this.options = options;
    this.publisher = new FeedPublisher(options.bus, options.logger);
    this.clock = options.clock ?? Date.now;
  }

  async edit(user: { id: number }, messageId: number, message: string): Promise<MessageView> {
    const row = await this.ownMessage(user.id, messageId);
    if (row.deleted === 1) throw deletedConflict();
    const text = checkText(message);
    const now = this.clock();
    const result = await this.options.repository.change(this.changeOf(row, 'edit', now), { body: sealAtRest(this.options.ring, text, String(row.id)), editedAt: now });
    if (!result.applied) throw deletedConflict();
    return this.applied(result.row, result.recorded);
  }

  /** Deleting a deleted message changes nothing, and is not an error. */
  async delete(user: { id: number }, messageId: number): Promise<void> {
    const row = await this.ownMessage(user.id, messageId);
    if (row.deleted === 1) return;
    const result = await this.options.repository.change(this.changeOf(row, 'delete', this.clock()), { body: '', deleted: true });
    if (result.applied) this.applied(result.row, result.recorded);
  }

  /**
   * Applies a peer's change once per request id; answers the new text ('' for a delete, or when
   * deleted), and a repeat of the request the message's text now (no earlier text is kept).
   */
  async receive(inbound: InboundChange): Promise<string> {
    const receipt = { peer: inbound.peer.name, requestKey: inbound.requestKey };
    const earlier = await this.textNowFor(receipt);
    if (earlier !== undefined) return earlier;
    const candidates = await this.options.repository.findByUuid(inbound.ref);
    if (candidates.length === 0) throw new NotFound('not_found', 'No message was delivered with this ref.');
    const sender = foldKey(`${inbound.senderName}@${inbound.peer.name}`);
    const row = candidates.find(
      (candidate) =>
        candidate.sender_user_id === null &&
        candidate.receiver_user_id !== null &&
        candidate.peer === inbound.peer.name &&
        foldKey(candidate.sender) === sender &&
        foldKey(candidate.receiver) === foldKey(inbound.receiverName),
    );
    if (!row) throw new Forbidden('forbidden', 'The ref is not a message this peer delivered from this sender to this receiver.');
    const text = inbound.op === 'edit' ? checkReceivedText(inbound.text ?? '') : '';
    if (row.deleted === 1) return '';
    const change: MessageChange = {
      messageId: row.id,
      now: this.clock(),
      changes: [{ userId: row.receiver_user_id!, type: 'message_updated', messageId: row.id }],
      receipt,
    };
    const set = inbound.op === 'edit' ? { body: sealAtRest(this.options.ring, text, String(row.id)), editedAt: change.now } : { body: '', deleted: true as const };
    const result = await this.options.repository.change(change, set);
    if (result.applied) {
      this.applied(result.row, result.recorded);
      return text;
    }
    if (result.reason === 'deleted') return '';
    // A repeat that arrived at the same moment was stored first.
    return (await this.textNowFor(receipt)) ?? text;
  }

  /** The text now of the message an earlier request of the peer under this key changed, if there was one. */
  private async textNowFor(receipt: { peer: string; requestKey: string }): Promise<string | undefined> {
    const row = await this.options.repository.findReceipt(receipt.peer, receipt.requestKey);
    return row && this.options.render(row).message;
  }

  /** The message, if the user sent it: 404 for a stranger to it, 403 for its receiver. */
  private async ownMessage(userId: number, messageId: number): Promise<MessageRow> {
    const row = await this.options.repository.findById(messageId);
    if (!row || (row.sender_user_id !== userId && row.receiver_user_id !== userId)) throw new NotFound();
    if (row.sender_user_id !== userId) throw new Forbidden('forbidden', 'Only the sender may edit or delete a message.');
    return row;
  }

  /** The events for both participants here, and the outbox entry when the message went to a peer. */
  private changeOf(row: MessageRow, op: 'edit' | 'delete', now: number): MessageChange {
    const users = [...new Set([row.sender_user_id, row.receiver_user_id].filter((id): id is number => id !== null))];
    const changes: Change[] = users.map((userId) => ({ userId, type: 'message_updated', messageId: row.id }));
    const peer = row.peer && row.receiver_user_id === null ? this.options.peers.find(row.peer) : undefined;
    // A compat peer (the original backend) has no such operation; a failed message never arrived.
    if (!peer || peer.compat || row.status === 'failed') return { messageId: row.id, now, changes };
    const receiverName = row.receiver.slice(0, row.receiver.length - peer.name.length - 1);
    return { messageId: row.id, now, changes, outbox: { op, opId: randomUUID(), peer: peer.name, receiverKey: remoteKey(receiverName, peer) } };
  }

  private applied(row: MessageRow, recorded: { userId: number; seq: number; prev: number }[]): MessageView {
    const view = this.options.render(row);
    for (const entry of recorded) this.publisher.message(entry, 'message_updated', view);
    if (row.peer && row.receiver_user_id === null) this.options.wakeDelivery();
    return view;
  }
}

function deletedConflict(): Conflict {
  return new Conflict('deleted', 'This message has been deleted and cannot be edited.');
}
