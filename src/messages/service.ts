// Sending and receiving messages: the rules (text, send budget, who the receiver is, or that the
// sender is a member of the group, idempotency by client id), the write through MessageWriter,
// then the `message.stored` event that the feed publisher and the outbox's first try follow. A
// send to a peer answers the first try's status.
import type { AddressResolver } from '../conversations/addresses.js';
import type { GroupQueries } from '../conversations/group-queries.js';
import { isGroupId, localMember, memberKey, remoteMember, type KnownPeer, type Member, type RemoteMember } from '../conversations/members.js';
import { timeOrderedUuid } from '../db/uuid.js';
import { controlCharactersIn } from '../unicode/control-characters.js';
import { Conflict, NotFound, RateLimited, ValidationFailed } from '../http/errors.js';
import type { MessageCounters } from '../http/metrics.js';
import type { RateBudget, RateLimitStore } from '../limits/rate-limiter.js';
import type { MessageEvents } from './events.js';
import type { RequestKey } from './ports.js';
import { settled } from './settled.js';
import type { MessageRecord } from './repository.js';
import type { MessageStatus, MessageViews } from './view.js';
import type { GroupTarget, MessageWriter, NewMessage } from './write.js';

/** A message to one receiver or to a group (the route lets exactly one of them through). */
export type SendInput = { message: string; clientId?: string } & (
  | {
      /** An address, or (sealed form) a local user id. */
      receiver: string | number;
      group?: undefined;
    }
  | { group: string; receiver?: undefined }
);

export interface SendResult {
  id: number;
  status: MessageStatus;
  timestamp: string;
}

export interface InboundMessage {
  peer: KnownPeer;
  senderName: string;
  receiverName: string;
  text: string;
  uuid: string;
  /** What identifies the request for replay detection: its id, or its token's hash. */
  requestKey: string;
}

/** A peer's message stored (or stored before), with its text now; or why it was refused. */
export type ReceiveOutcome = { ok: true; text: string } | { ok: false; error: unknown };

/** What one user may send (SEND_RATE), counted in the shared store. */
export interface SendBudget {
  rate: RateBudget;
  limits: RateLimitStore;
}

const MAX_TEXT_LENGTH = 10_000;

export class MessagesService {
  constructor(
    private readonly writer: MessageWriter,
    private readonly resolver: AddressResolver,
    private readonly groups: GroupQueries,
    private readonly views: MessageViews,
    private readonly events: MessageEvents,
    private readonly counters: MessageCounters,
    private readonly clock: () => number,
    private readonly sendBudget: SendBudget | undefined,
  ) {}

  async send(user: { id: number; username: string }, input: SendInput): Promise<SendResult> {
    const text = checkText(input.message);
    await this.spendSendBudget(user.id);
    const target = input.group === undefined ? { receiver: await this.receiverOf(input.receiver) } : { group: await this.groupOf(user, input.group) };
    const item: NewMessage = { uuid: timeOrderedUuid(this.clock()), sender: localMember(user), ...target, text, clientId: input.clientId ?? null };
    const result = await this.writer.submit(item);
    if (!result.stored) return this.repeatedSend(result.record, item);

    this.counters.sent();
    const { record } = result;
    const message = this.views.view(record, text);
    const queued = result.outbox;
    const outbound = queued
      ? {
          message: {
            entryId: queued.entryId,
            messageId: record.id,
            uuid: record.uuid,
            peer: queued.server,
            senderUserId: user.id,
            sender: user.username,
            receiverName: item.receiver?.kind === 'remote' ? item.receiver.name : '',
            text,
            createdAt: record.created_at,
            ...(queued.group ? { group: queued.group } : {}),
          },
          claimed: queued.claimed,
          receiverKey: queued.receiverKey,
        }
      : undefined;
    // Published now, in commit order; a first try that ends soon follows as a `status` event.
    const answers = await this.events.emit('message.stored', { message, recorded: result.recorded, queuedForPeers: result.queuedForPeers, ...(outbound ? { outbound } : {}) });
    const status = answers.find((answer) => answer !== undefined) ?? record.status;
    return { id: record.id, status, timestamp: message.timestamp };
  }

  private async receiverOf(address: string | number): Promise<Member> {
    const receiver = typeof address === 'number' ? await this.resolver.findLocalById(address) : await this.resolver.resolve(address);
    if (!receiver) throw new NotFound('unknown_receiver', 'The receiver does not exist.');
    return receiver;
  }

  /** A group the user is a member of; any other id (not a uuid, no such group, not a member) is 404. */
  private async groupOf(user: { id: number }, id: string): Promise<GroupTarget> {
    const group = isGroupId(id) ? await this.groups.findGroup(id.toLowerCase(), user.id) : undefined;
    if (!group) throw new NotFound();
    return { id: group.id, uuid: group.uuid, home: group.home };
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

  /**
   * A send retried with a client id already used: the first result, if it is the same message.
   * Once edited or deleted, the text it was sent with is kept nowhere: the target alone can tell.
   */
  private repeatedSend(record: MessageRecord, item: NewMessage): SendResult {
    const sameTarget = item.group ? record.conversation_id === item.group.id : record.receiver_key === memberKey(item.receiver);
    const textChanged = record.edited_at !== null || record.deleted !== 0;
    if (!sameTarget || (!textChanged && this.views.textOf(record) !== item.text)) {
      throw new Conflict('duplicate', 'This client_id was already used for a different message.', {
        client_id: ['This client_id was already used for a different message.'],
      });
    }
    return { id: record.id, status: record.status, timestamp: new Date(record.created_at).toISOString() };
  }

  /** Stores a message a peer delivered, once per request id; returns its text. */
  async receive(inbound: InboundMessage): Promise<string> {
    const [outcome] = await this.receiveInOrder([inbound]);
    if (!outcome!.ok) throw outcome!.error;
    return outcome!.text;
  }

  /**
   * Stores the messages of a peer's transaction in their order, each once per request id; answers
   * each one's text, or why it was refused, without one refusal stopping the others.
   */
  async receiveInOrder(inbounds: InboundMessage[]): Promise<ReceiveOutcome[]> {
    const items = await Promise.all(inbounds.map((inbound) => settled(this.receivedItem(inbound))));
    // Submitted in one go, in their order: the write batch keeps it.
    const writes = items.map((item) => (item.ok ? settled(this.writer.submit(item.value)) : undefined));
    const outcomes: ReceiveOutcome[] = [];
    const published: Promise<unknown>[] = [];
    for (const [index, item] of items.entries()) {
      const result = item.ok ? await writes[index]! : item;
      if (!item.ok || !result.ok) {
        outcomes.push(result as ReceiveOutcome);
        continue;
      }
      // A repeat is answered with the text the message has now: no earlier text is kept anywhere.
      if (!result.value.stored) {
        outcomes.push({ ok: true, text: this.views.textOf(result.value.record) });
        continue;
      }
      this.counters.received();
      // Emitted in order, so that the receivers' sessions see the messages in order.
      published.push(this.events.emit('message.stored', { message: this.views.view(result.value.record, item.value.text), recorded: result.value.recorded, queuedForPeers: result.value.queuedForPeers }));
      outcomes.push({ ok: true, text: item.value.text });
    }
    await Promise.all(published);
    return outcomes;
  }

  /**
   * A group's message posted by a member on a peer, at the group's home, once per item (its
   * receipt); the item's uuid is the message's, as the poster's backend stored it.
   */
  async receiveGroupPost(post: { group: GroupTarget; sender: RemoteMember; uuid: string; text: string; receipt: RequestKey }): Promise<void> {
    const result = await this.writer.submit({ uuid: post.uuid, sender: post.sender, group: post.group, text: post.text, clientId: null, receipt: post.receipt });
    if (!result.stored) return;
    this.counters.received();
    await this.events.emit('message.stored', { message: this.views.view(result.record, post.text), recorded: result.recorded, queuedForPeers: result.queuedForPeers });
  }

  /** The message a peer delivered, for its local receiver. */
  private async receivedItem(inbound: InboundMessage): Promise<NewMessage> {
    const problem = controlCharactersIn(inbound.receiverName, 'name');
    if (problem) throw new ValidationFailed({ receiver: [problem] });
    const receiver = await this.resolver.resolve(inbound.receiverName);
    if (!receiver || receiver.kind !== 'local') throw new NotFound('unknown_receiver', 'The receiver does not exist.');
    return {
      uuid: inbound.uuid,
      sender: remoteMember(inbound.peer, inbound.senderName),
      receiver,
      text: checkReceivedText(inbound.text),
      clientId: null,
      receipt: { peer: inbound.peer.name, requestKey: inbound.requestKey },
    };
  }

  /** Resolves once every accepted write is committed. */
  drain(): Promise<void> {
    return this.writer.drain();
  }
}

/** What is wrong with a text, if anything: it must be 1 to 10,000 characters once trimmed (code points, as Django counts). */
export function textProblem(message: string): string | undefined {
  // A peer's text was sealed past the request hook that refuses these in clients' input.
  const problem = controlCharactersIn(message, 'prose');
  if (problem) return problem;
  const text = message.trim();
  if (text.length === 0) return 'This field may not be blank.';
  if (text.length > MAX_TEXT_LENGTH && [...text].length > MAX_TEXT_LENGTH) return `Ensure this field has no more than ${MAX_TEXT_LENGTH} characters.`;
  return undefined;
}

/** The text as stored: trimmed. */
export function checkText(message: string): string {
  const problem = textProblem(message);
  if (problem) throw new ValidationFailed({ message: [problem] });
  return message.trim();
}

/** A text a peer delivered, within the same bounds, but kept (and answered) exactly as it was sent. */
export function checkReceivedText(message: string): string {
  checkText(message);
  return message;
}
