// Who sees whom: the audiences of presence are the local members of one's established direct
// conversations and of one's groups; of typing, one's established partners, or a group's members
// (realtime's PresenceDirectory and TypingDirectory, answered from membership).
import type { AddressResolver } from './addresses.js';
import type { GroupQueries } from './group-queries.js';
import type { ConversationsRepository } from './repository.js';

export interface LocalUser {
  id: number;
  username: string;
}

export class MembershipDirectory {
  constructor(
    private readonly repository: ConversationsRepository,
    private readonly groups: GroupQueries,
    private readonly resolver: AddressResolver,
  ) {}

  /** The local users the user has an established conversation or a group with: they see each other's presence. */
  async partnersOf(userId: number): Promise<number[]> {
    const [partners, coMembers] = await Promise.all([this.repository.establishedPartners(userId), this.groups.groupCoMembers(userId)]);
    return [...new Set([...partners, ...coMembers].map((partner) => partner.id))];
  }

  /** The user's established local partners, by their folded username (see `localNameKey`). */
  async partnersByName(userId: number): Promise<Map<string, LocalUser>> {
    const partners = await this.repository.establishedPartners(userId);
    return new Map(partners.map((partner) => [partner.usernameKey, { id: partner.id, username: partner.username }]));
  }

  /** Which of the named users are established local partners of the user, or share a group with them. */
  async partnersAmong(userId: number, names: string[]): Promise<LocalUser[]> {
    const members = await Promise.all(names.map((name) => this.resolver.resolve(name)));
    const known = new Map<number, LocalUser>();
    for (const member of members) if (member?.kind === 'local' && member.userId !== userId) known.set(member.userId, { id: member.userId, username: member.username });
    const ids = [...known.keys()];
    const [partners, coMembers] = await Promise.all([this.repository.establishedPartners(userId, ids), this.groups.groupCoMembers(userId, ids)]);
    return [...new Set([...partners, ...coMembers].map((partner) => partner.id))].map((id) => known.get(id)!);
  }

  /** The ids of the user's groups (typing names a group by id). */
  async groupIdsOf(userId: number): Promise<ReadonlySet<string>> {
    return new Set(await this.groups.groupIdsOf(userId));
  }

  /** A group's local members now; none when the id names no group. */
  async groupMembers(groupId: string): Promise<LocalUser[]> {
    return this.groups.localMembers(groupId);
  }

  /** The folded username an address gives when it names a user of this backend; undefined for a remote one. */
  localNameKey(address: string): string | undefined {
    return this.resolver.localNameKey(address);
  }
}
