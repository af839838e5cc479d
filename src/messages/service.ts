// Message rules: sending (local or to a peer, idempotent by client id), reading a conversation,
// catching up, conversation summaries, read markers, and storing what peers deliver.
import type { Logger } from 'pino';
import { openAtRest, sealAtRest, type KeyRing } from '../crypto/aead.js';
import { WriteBatcher } from '../db/write-batcher.js';
import type { Change, Recorded } from '../feed/event-log.js';
import { FeedPublisher } from '../feed/publisher.js';
import type { Peer } from '../federation/peers.js';
import { Conflict, Forbidden, NotFound, RateLimited, ValidationFailed } from '../http/errors.js';
import type { MessageCounters } from '../http/metrics.js';
import { pageOf } from '../http/pagination.js';
import type { RateBudget, RateLimitStore } from '../limits/rate-limiter.js';
import type { EventBus } from '../realtime/bus.js';
import { AddressResolver, addressOf, pairKey, participantKey, remoteKey, type Participant } from './addresses.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import type { MessageRow, MessageStatus, MessagesRepository, NewMessage, WriteResult } from './repository.js';
import { timeOrderedUuid } from './uuid.js';

export interface MessageView {
  id: number;
  sender: string;
  receiver: string;
  message: string;
  timestamp: string;
  status: MessageStatus;
  read_at: string | null;
  edited_at: string | null;
  deleted: boolean;
}

export interface SendInput {
  message: string;
  /** An address, or (sealed form) a local user id. */
  receiver: string | number;
  clientId?: string;
}

export interface SendResult {
  id: number;
  status: MessageStatus;
  timestamp: string;
}

/** A message on its way to a peer, as the outbox carries it. */
export interface OutboundMessage {
  entryId: number;
  messageId: number;
  uuid: string;
  peer: string;
  senderUserId: number;
  sender: string;
  receiverName: string;
  /** The text to send ('' for a delete). */
  text: string;
  createdAt: number;
  /** An edit or a delete of the message (sent under its own id, with `ref` the message's); else the message. */
  op?: { kind: 'edit' | 'delete'; id: string };
}

/** What sending needs from federation delivery (the outbox worker). */
export interface OutboundDelivery {
  /** The lease taken on an outbox entry written now, so that it can be tried at once. */
  lease(now: number): { by: string; until: number };
  /**
   * Tries a claimed entry now: its status if the try ends soon, else `queued` (it goes on).
   * `line` is the receiver's outbox key.
   */
  firstTry(message: OutboundMessage, line: string): Promise<MessageStatus>;
  /**
   * An entry written behind an earlier one for its receiver: tried as soon as that one ends, if
   * within the same wait; else `queued`, and the worker sends it in its turn.
   */
  firstTryBehind(message: OutboundMessage, line: string): Promise<MessageStatus>;
}

export interface InboundMessage {
  peer: Peer;
  senderName: string;
  receiverName: string;
  text: string;
  uuid: string;
  /** What identifies the request for replay detection: its id, or its token's hash. */
  requestKey: string;
}

export interface MessagesServiceOptions {
  repository: MessagesRepository;
  resolver: AddressResolver;
  ring: KeyRing;
  bus: EventBus;
  delivery: OutboundDelivery;
  logger: Logger;
  counters?: MessageCounters;
  clock?: () => number;
  /** What one user may send (SEND_RATE), counted in the shared store; none when off. */
  sendBudget?: { rate: RateBudget; limits: RateLimitStore };
}

const MAX_TEXT_LENGTH = 10_000;

export class MessagesService {
  private readonly repository: MessagesRepository;
  private readonly resolver: AddressResolver;
  private readonly ring: KeyRing;
  private readonly publisher: FeedPublisher;
  private readonly delivery: OutboundDelivery;
  private readonly clock: () => number;
  private readonly counters: MessageCounters;
  private readonly writer: WriteBatcher<NewMessage, WriteResult>;
  private readonly sendBudget: MessagesServiceOptions['sendBudget'];

  constructor(options: MessagesServiceOptions) {
    this.repository = options.repository;
    this.resolver = options.resolver;
    this.ring = options.ring;
    this.publisher = new FeedPublisher(options.bus, options.logger);
    this.delivery = options.delivery;
    this.clock = options.clock ?? Date.now;
    this.counters = options.counters ?? { sent: () => undefined, received: () => undefined, federated: () => undefined };
    this.sendBudget = options.sendBudget;
    this.writer = new WriteBatcher((items) => {
      const now = this.clock();
      return this.repository.writeBatch(items, {
        now,
        seal: (text, id) => sealAtRest(this.ring, text, String(id)),
        claim: this.delivery.lease(now),
      });
    });
  }

  async send(user: { id: number; username: string }, input: SendInput): Promise<SendResult> {
    const text = checkText(input.message);
    await this.spendSendBudget(user.id);
    const receiver =
      typeof input.receiver === 'number' ? await this.resolver.findLocalById(input.receiver) : await this.resolver.resolve(input.receiver);
    if (!receiver) throw new NotFound('unknown_receiver', 'The receiver does not exist.');
    const sender: Participant = { kind: 'local', userId: user.id, username: user.username };
    const toSelf = receiver.kind === 'local' && receiver.userId === user.id;
    const conversations = [{ userId: user.id, partnerKey: participantKey(receiver), partner: addressOf(receiver), unread: false }];
    if (receiver.kind === 'local' && !toSelf) {
      conversations.push({ userId: receiver.userId, partnerKey: participantKey(sender), partner: user.username, unread: true });
    }
    const item: NewMessage = {
      uuid: timeOrderedUuid(this.clock()),
      pair: pairKey(sender, receiver),
      senderUserId: user.id,
      receiverUserId: receiver.kind === 'local' ? receiver.userId : null,
      sender: user.username,
      receiver: addressOf(receiver),
      peer: receiver.kind === 'remote' ? receiver.peer.name : null,
      text,
      status: receiver.kind === 'local' ? 'delivered' : 'queued',
      clientId: input.clientId ?? null,
      conversations,
      notify: receiver.kind === 'local' && !toSelf ? [user.id, receiver.userId] : [user.id],
      ...(receiver.kind === 'remote' ? { outbox: { peer: receiver.peer.name, receiverKey: remoteKey(receiver.name, receiver.peer) } } : {}),
    };
    const result = await this.writer.submit(item);
    if (!result.stored) return this.repeatedSend(result.row, item);

    this.counters.sent();
    const { row } = result;
    // Published now, in commit order; a first try that ends soon follows as a `status` event.
    const view = this.view(row, text);
    for (const recorded of result.recorded) this.publisher.message(recorded, 'message', view);
    let status = row.status;
    if (receiver.kind === 'remote' && result.outbox && item.outbox) {
      const outbound: OutboundMessage = {
        entryId: result.outbox.entryId,
        messageId: row.id,
        uuid: row.uuid,
        peer: receiver.peer.name,
        senderUserId: user.id,
        sender: user.username,
        receiverName: receiver.name,
        text,
        createdAt: row.created_at,
      };
      const line = item.outbox.receiverKey;
      status = result.outbox.claimed ? await this.delivery.firstTry(outbound, line) : await this.delivery.firstTryBehind(outbound, line);
    }
    return { id: row.id, status, timestamp: view.timestamp };
  }

  /**
   * Counts a send against the user's budget, before anything is stored. The window holds a
   * burst and lasts as long as the steady rate takes to earn one: `count` per `perMs` on
   * average, `burst` at once.
   */
  private async spendSendBudget(userId: number): Promise<void> {
    if (!this.sendBudget) return;
    const { rate, limits } = this.sendBudget;
    const window = await limits.hit(`send:${userId}`, (rate.perMs * rate.burst) / rate.count);
    if (window.count > rate.burst) throw new RateLimited(window.resetInMs / 1000, 'Too many messages sent. Try again later.');
  }

  /** A send retried with a client id already used: the first result, if it is the same message. */
  private repeatedSend(row: MessageRow, item: NewMessage): SendResult {
    if (row.pair !== item.pair || this.textOf(row) !== item.text) {
      throw new Conflict('duplicate', 'This client_id was already used for a different message.', {
        client_id: ['This client_id was already used for a different message.'],
      });
    }
    return { id: row.id, status: row.status, timestamp: new Date(row.created_at).toISOString() };
  }

  /** Stores a message a peer delivered, once per request id; returns its text. */
  async receive(inbound: InboundMessage): Promise<string> {
    const receiver = await this.resolver.resolve(inbound.receiverName);
    if (!receiver || receiver.kind !== 'local') throw new NotFound('unknown_receiver', 'The receiver does not exist.');
    const sender: Participant = { kind: 'remote', peer: inbound.peer, name: inbound.senderName };
    const text = checkReceivedText(inbound.text);
    const result = await this.writer.submit({
      uuid: inbound.uuid,
      pair: pairKey(sender, receiver),
      senderUserId: null,
      receiverUserId: receiver.userId,
      sender: addressOf(sender),
      receiver: receiver.username,
      peer: inbound.peer.name,
      text,
      status: 'delivered',
      clientId: null,
      conversations: [{ userId: receiver.userId, partnerKey: participantKey(sender), partner: addressOf(sender), unread: true }],
      receipt: { peer: inbound.peer.name, requestKey: inbound.requestKey },
      notify: [receiver.userId],
    });
    // A repeat is answered with the text the message has now: no earlier text is kept anywhere.
    if (!result.stored) return this.textOf(result.row);
    this.counters.received();
    const view = this.view(result.row, text);
    for (const recorded of result.recorded) this.publisher.message(recorded, 'message', view);
    return text;
  }

  /** A message's outbox entry ended: counted, and its recorded `status` event published. */
  deliveryFinished(messageId: number, status: 'delivered' | 'failed', recorded: Recorded | undefined): void {
    if (status === 'delivered') this.counters.federated();
    if (recorded) this.publisher.data(recorded, 'status', { id: messageId, status });
  }

  async history(user: { id: number; username: string }, withAddress: string, before: string | undefined, limit: number): Promise<{ results: MessageView[]; next: string | null }> {
    const beforeId = before === undefined ? undefined : decodeCursor(before, 'before');
    const partner = await this.resolver.resolve(withAddress);
    if (!partner) return { results: [], next: null };
    const me: Participant = { kind: 'local', userId: user.id, username: user.username };
    const rows = await this.repository.history(pairKey(me, partner), beforeId, limit + 1);
    const page = pageOf(rows, limit, (last) => encodeCursor(last.id));
    return { results: page.results.map((row) => this.view(row)), next: page.next };
  }

  async catchUp(userId: number, afterId: number, limit: number): Promise<{ results: MessageView[]; next: string | null }> {
    const rows = await this.repository.sentOrReceivedAfter(userId, afterId, limit + 1);
    const page = pageOf(rows, limit, (last) => String(last.id));
    return { results: page.results.map((row) => this.view(row)), next: page.next };
  }

  async conversations(userId: number, before: string | undefined, limit: number) {
    const beforeId = before === undefined ? undefined : decodeCursor(before, 'before');
    const rows = await this.repository.conversations(userId, beforeId, limit + 1);
    const page = pageOf(rows, limit, (last) => encodeCursor(last.message.id));
    return {
      results: page.results.map((row) => ({ with: row.partner, last_message: this.view(row.message), unread: row.unread })),
      next: page.next,
    };
  }

  /** Marks a received message and every earlier one from the same sender read. */
  async markRead(user: { id: number; username: string }, messageId: number): Promise<MessageView> {
    const row = await this.repository.findById(messageId);
    if (!row || (row.sender_user_id !== user.id && row.receiver_user_id !== user.id)) throw new NotFound();
    if (row.receiver_user_id !== user.id) throw new Forbidden('forbidden', 'Only the receiver may mark a message read.');
    if (row.read_at !== null) return this.view(row);
    const now = this.clock();
    const marker = { with: user.username, up_to: row.id, read_at: new Date(now).toISOString() };
    const tellSender = row.sender_user_id !== null && row.sender_user_id !== user.id;
    const changes: Change[] = tellSender ? [{ userId: row.sender_user_id!, type: 'read', messageId: null, data: marker }] : [];
    const { recorded } = await this.repository.markRead(user.id, row.pair, this.senderKey(row), row.id, now, changes);
    for (const entry of recorded) this.publisher.data(entry, 'read', marker);
    const updated = await this.repository.findById(messageId);
    return this.view(updated ?? { ...row, read_at: now });
  }

  /** The participant key of a row's sender, as the receiver's conversation names it. */
  private senderKey(row: MessageRow): string {
    if (row.sender_user_id !== null) return `u:${row.sender_user_id}`;
    const peerName = row.peer ?? '';
    const name = row.sender.slice(0, row.sender.length - peerName.length - 1);
    // A peer no longer configured: its names were folded unless it was compat, which is no longer known.
    return remoteKey(name, this.resolver.findPeer(peerName) ?? { name: peerName, compat: false });
  }

  /**
   * The local users the user has an established conversation with (both have written, or one
   * has read the other's messages): they see each other's presence and typing.
   */
  async partnersOf(userId: number): Promise<number[]> {
    const keys = await this.repository.establishedPartnerKeys(userId);
    return keys.map(localUserIdOf).filter((id) => Number.isSafeInteger(id) && id !== userId);
  }

  /** The user's established local conversation partners, by their folded username (see `localNameKey`). */
  async partnersByName(userId: number): Promise<Map<string, { id: number; username: string }>> {
    const partners = await this.repository.establishedPartners(userId);
    return new Map(partners.filter((partner) => partner.id !== userId).map((partner) => [partner.usernameKey, { id: partner.id, username: partner.username }]));
  }

  /** The folded username an address gives when it names a user of this backend; undefined for a remote one. */
  localNameKey(address: string): string | undefined {
    return this.resolver.localNameKey(address);
  }

  /** Which of the named users are established local conversation partners of the user. */
  async partnersNamed(userId: number, names: string[]): Promise<{ id: number; username: string }[]> {
    const users = await Promise.all(names.map((name) => this.findLocalUser(name)));
    const known = new Map<number, { id: number; username: string }>();
    for (const user of users) if (user && user.id !== userId) known.set(user.id, user);
    const keys = await this.repository.establishedPartnerKeys(userId, [...known.keys()].map((id) => `u:${id}`));
    return keys.map((key) => known.get(localUserIdOf(key))!);
  }

  /** The local user an address names, if any. */
  async findLocalUser(address: string): Promise<{ id: number; username: string } | undefined> {
    const participant = await this.resolver.resolve(address);
    return participant?.kind === 'local' ? { id: participant.userId, username: participant.username } : undefined;
  }

  /** Resolves once every accepted write is committed. */
  drain(): Promise<void> {
    return this.writer.drain();
  }

  view(row: MessageRow, text?: string): MessageView {
    return {
      id: row.id,
      sender: row.sender,
      receiver: row.receiver,
      message: text ?? this.textOf(row),
      timestamp: new Date(row.created_at).toISOString(),
      status: row.status,
      read_at: row.read_at === null ? null : new Date(row.read_at).toISOString(),
      edited_at: row.edited_at === null ? null : new Date(row.edited_at).toISOString(),
      deleted: row.deleted === 1,
    };
  }

  private textOf(row: MessageRow): string {
    return row.deleted === 1 || row.body === '' ? '' : openAtRest(this.ring, row.body, String(row.id));
  }
}

/** The text as stored: trimmed, 1 to 10,000 characters (code points, as Django counts). */
export function checkText(message: string): string {
  const text = message.trim();
  if (text.length === 0) throw new ValidationFailed({ message: ['This field may not be blank.'] });
  if (text.length > MAX_TEXT_LENGTH && [...text].length > MAX_TEXT_LENGTH) {
    throw new ValidationFailed({ message: [`Ensure this field has no more than ${MAX_TEXT_LENGTH} characters.`] });
  }
  return text;
}

/** A text a peer delivered, within the same bounds, but kept (and answered) exactly as it was sent. */
export function checkReceivedText(message: string): string {
  checkText(message);
  return message;
}

/** The user id of a local participant key (`u:<id>`). */
function localUserIdOf(key: string): number {
  return Number(key.slice(2));
}
