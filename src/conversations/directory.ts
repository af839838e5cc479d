// Who sees whom: the audiences of presence and typing are the local members of one's established
// direct conversations (realtime's PresenceDirectory and TypingDirectory, answered from membership).
import type { AddressResolver } from './addresses.js';
import type { ConversationsRepository } from './repository.js';

export interface LocalUser {
  id: number;
  username: string;
}

export class MembershipDirectory {
  constructor(
    private readonly repository: ConversationsRepository,
    private readonly resolver: AddressResolver,
  ) {}

  /** The local users the user has an established conversation with: they see each other's presence and typing. */
  async partnersOf(userId: number): Promise<number[]> {
    return (await this.repository.establishedPartners(userId)).map((partner) => partner.id);
  }

  /** The user's established local partners, by their folded username (see `localNameKey`). */
  async partnersByName(userId: number): Promise<Map<string, LocalUser>> {
    const partners = await this.repository.establishedPartners(userId);
    return new Map(partners.map((partner) => [partner.usernameKey, { id: partner.id, username: partner.username }]));
  }

  /** Which of the named users are established local partners of the user. */
  async partnersAmong(userId: number, names: string[]): Promise<LocalUser[]> {
    const members = await Promise.all(names.map((name) => this.resolver.resolve(name)));
    const known = new Map<number, LocalUser>();
    for (const member of members) if (member?.kind === 'local' && member.userId !== userId) known.set(member.userId, { id: member.userId, username: member.username });
    const partners = await this.repository.establishedPartners(userId, [...known.keys()]);
    return partners.map((partner) => known.get(partner.id)!);
  }

  /** The folded username an address gives when it names a user of this backend; undefined for a remote one. */
  localNameKey(address: string): string | undefined {
    return this.resolver.localNameKey(address);
  }
}
