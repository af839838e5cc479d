// Typing indicators across backends (federation.md, "Transactions"): alice on a typing to bob@b
// becomes a `typing` item in a's next transaction to b, and b tells bob's sessions that alice@a
// is typing. Only between members of a direct conversation, at most once per pair every 2 s on
// each side, never stored and never retried: an indicator that does not make it is simply gone.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { AddressResolver } from '../../conversations/addresses.js';
import type { DirectConversations } from '../../conversations/direct.js';
import { addressOf, localMember, memberKey, remoteMember, type KnownPeer } from '../../conversations/members.js';
import type { RateLimitStore } from '../../limits/rate-limiter.js';
import type { EventBus } from '../../realtime/bus.js';
import type { ItemOf } from './protocol.js';

/** Where outbound indicators go: the outbox's lane of the peer. */
export interface TypingSender {
  sendTyping(peer: string, item: ItemOf<'typing'>): void;
}

export interface FederatedTypingOptions {
  resolver: Pick<AddressResolver, 'resolve' | 'findLocal'>;
  direct: Pick<DirectConversations, 'find'>;
  limits: RateLimitStore;
  bus: EventBus;
  sender: TypingSender;
  logger: Logger;
}

const TYPING_WINDOW_MS = 2000;

export class FederatedTyping {
  constructor(private readonly options: FederatedTypingOptions) {}

  /** A local user types to an address of a RealChat peer; dropped silently otherwise. */
  forward(from: { id: number; username: string }, to: string): void {
    this.send(from, to).catch((error: unknown) => this.options.logger.warn({ err: error }, 'typing: could not forward an indicator'));
  }

  /** A peer's user types to one of ours; passed on only within a direct conversation. */
  async receive(peer: KnownPeer, item: ItemOf<'typing'>): Promise<void> {
    const receiver = await this.options.resolver.findLocal(item.to);
    if (!receiver) return;
    const sender = remoteMember(peer, item.from);
    if ((await this.options.direct.find({ sender, receiver })) === undefined) return;
    if (!(await this.firstInWindow(`typing:${memberKey(sender)}:${receiver.userId}`))) return;
    await this.options.bus.publish(receiver.userId, { type: 'typing', from: addressOf(sender) });
  }

  private async send(from: { id: number; username: string }, to: string): Promise<void> {
    const receiver = await this.options.resolver.resolve(to);
    // The original backend has no typing indicators.
    if (receiver?.kind !== 'remote' || receiver.compat) return;
    if ((await this.options.direct.find({ sender: localMember(from), receiver })) === undefined) return;
    if (!(await this.firstInWindow(`typing:${from.id}:${memberKey(receiver)}`))) return;
    this.options.sender.sendTyping(receiver.server, { type: 'typing', id: randomUUID(), from: from.username, to: receiver.name });
  }

  private async firstInWindow(key: string): Promise<boolean> {
    return (await this.options.limits.hit(key, TYPING_WINDOW_MS)).count === 1;
  }
}
