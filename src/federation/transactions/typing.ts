// Typing indicators across backends (federation.md, "Transactions"): alice on a typing to bob@b
// becomes a `typing` item in a's next transaction to b, and b tells bob's sessions that alice@a
// is typing. Only within an established direct conversation (as between local users: a stranger's
// one message opens no channel), at most once per pair every 2 s on
// each side, never stored and never retried: an indicator that does not make it is simply gone.
// In a group (groups.md), a member's backend sends it to the home, which tells its own members'
// sessions and relays it to the other backends with members; they tell their members'.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { qualifiedName, type AddressResolver } from '../../conversations/addresses.js';
import type { DirectConversations } from '../../conversations/direct.js';
import type { GroupQueries } from '../../conversations/group-queries.js';
import { addressOf, localMember, memberKey, remoteMember, type ConversationId, type KnownPeer } from '../../conversations/members.js';
import type { ConversationsRepository } from '../../conversations/repository.js';
import { distinctServers } from '../../messages/group-federation.js';
import type { RateLimitStore } from '../../limits/rate-limiter.js';
import type { EventBus } from '../../realtime/bus.js';
import type { ItemOf } from './protocol.js';

/** Where outbound indicators go: the outbox's lane of the peer. */
export interface TypingSender {
  sendTyping(peer: string, item: ItemOf<'typing'>): void;
}

export interface FederatedTypingOptions {
  resolver: Pick<AddressResolver, 'resolve' | 'findLocal'>;
  direct: Pick<DirectConversations, 'established'>;
  limits: RateLimitStore;
  bus: EventBus;
  sender: TypingSender;
  logger: Logger;
  groups: Pick<GroupQueries, 'findGroup' | 'findByUuid' | 'findGroupForMember'>;
  conversations: Pick<ConversationsRepository, 'memberKeys'>;
  /** This backend's SERVER_NAME: its users are `name@serverName` to other backends. */
  serverName: string;
}

type GroupTyping = Extract<ItemOf<'typing'>, { group: string }>;
type DirectTyping = Extract<ItemOf<'typing'>, { to: string }>;

const TYPING_WINDOW_MS = 2000;

export class FederatedTyping {
  constructor(private readonly options: FederatedTypingOptions) {}

  /** A local user types to an address of a RealChat peer; dropped silently otherwise. */
  forward(from: { id: number; username: string }, to: string): void {
    this.send(from, to).catch((error: unknown) => this.options.logger.warn({ err: error }, 'typing: could not forward an indicator'));
  }

  /** A local member types in a group: to the other backends with members (at home), or to the home. */
  forwardToGroup(from: { id: number; username: string }, group: string): void {
    this.sendToGroup(from, group).catch((error: unknown) => this.options.logger.warn({ err: error }, 'typing: could not forward an indicator'));
  }

  /** A peer's indicator: to one of ours within a direct conversation, or in a group. */
  async receive(peer: KnownPeer, item: ItemOf<'typing'>): Promise<void> {
    if ('to' in item) return this.receiveDirect(peer, item);
    return this.receiveInGroup(peer, item);
  }

  private async receiveDirect(peer: KnownPeer, item: DirectTyping): Promise<void> {
    const receiver = await this.options.resolver.findLocal(item.to);
    if (!receiver) return;
    const sender = remoteMember(peer, item.from);
    if (!(await this.firstInWindow(`typing:${memberKey(sender)}:${receiver.userId}`))) return;
    if (!(await this.options.direct.established({ sender, receiver }))) return;
    await this.options.bus.publish(receiver.userId, { type: 'typing', from: addressOf(sender) });
  }

  private async send(from: { id: number; username: string }, to: string): Promise<void> {
    const receiver = await this.options.resolver.resolve(to);
    // The original backend has no typing indicators.
    if (receiver?.kind !== 'remote' || receiver.compat) return;
    if (!(await this.firstInWindow(`typing:${from.id}:${memberKey(receiver)}`))) return;
    if (!(await this.options.direct.established({ sender: localMember(from), receiver }))) return;
    this.options.sender.sendTyping(receiver.server, { type: 'typing', id: randomUUID(), from: from.username, to: receiver.name });
  }

  private async sendToGroup(from: { id: number; username: string }, uuid: string): Promise<void> {
    const group = await this.options.groups.findGroup(uuid, from.id);
    if (!group) return;
    if (group.home !== null) {
      this.options.sender.sendTyping(group.home, { type: 'typing', id: randomUUID(), from: from.username, group: uuid });
      return;
    }
    await this.relay(group.id, uuid, qualifiedName(from.username, this.options.serverName), undefined);
  }

  /**
   * At the home, a member of the origin types: the home's members' sessions, and the other
   * backends with members. On a member's backend, the home relays one: its members' sessions.
   * Anything else (not a member, not the group's home) is dropped, as an indicator may be.
   */
  private async receiveInGroup(peer: KnownPeer, item: GroupTyping): Promise<void> {
    const group = await this.options.groups.findByUuid(item.group);
    if (!group) return;
    if (group.home === null) {
      const sender = remoteMember(peer, item.from);
      if (!(await this.options.groups.findGroupForMember(item.group, memberKey(sender)))) return;
      if (!(await this.firstInWindow(`typing:${memberKey(sender)}:g:${item.group}`))) return;
      const members = await this.options.conversations.memberKeys(group.id);
      await this.options.bus.publishToMany(localUsers(members), { type: 'typing', from: addressOf(sender), group: item.group });
      await this.relay(group.id, item.group, qualifiedName(item.from, peer.name), peer.name, members);
      return;
    }
    if (group.home.toLowerCase() !== peer.name.toLowerCase()) return;
    const members = await this.options.conversations.memberKeys(group.id);
    await this.options.bus.publishToMany(localUsers(members), { type: 'typing', from: item.from, group: item.group });
  }

  /** Relays a member's indicator from the home to the backends with members, but the one it came from. */
  private async relay(id: ConversationId, uuid: string, from: string, origin: string | undefined, known?: { server: string | null }[]): Promise<void> {
    const members = known ?? (await this.options.conversations.memberKeys(id));
    const servers = distinctServers(members.flatMap((member) => (member.server === null ? [] : [member.server])));
    for (const server of servers) {
      if (origin !== undefined && server.toLowerCase() === origin.toLowerCase()) continue;
      this.options.sender.sendTyping(server, { type: 'typing', id: randomUUID(), from, group: uuid });
    }
  }

  private async firstInWindow(key: string): Promise<boolean> {
    return (await this.options.limits.hit(key, TYPING_WINDOW_MS)).count === 1;
  }
}

function localUsers(members: readonly { userId: number | null }[]): { userId: number }[] {
  return members.flatMap((member) => (member.userId === null ? [] : [{ userId: member.userId }]));
}
