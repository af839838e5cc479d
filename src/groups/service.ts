// Groups on this backend: creating one, its name, its members and their roles, leaving (the owner
// hands over; the last member out deletes the group and erases its texts). Each change is one
// change-locked transaction that re-reads the caller's membership, moves the group's version on
// and records a `group` entry in every member's feed (a `group_left` one for who left); the
// events follow once committed. Anyone who is not a member is told 404, never 403.
import type { Kysely, Transaction } from 'kysely';
import type { AddressResolver } from '../conversations/addresses.js';
import type { GroupMembership, GroupQueries } from '../conversations/group-queries.js';
import { isGroupId, localMember, memberKey, type ConversationId, type Member } from '../conversations/members.js';
import type { ConversationsRepository, GroupRole } from '../conversations/repository.js';
import { withChangeLock } from '../db/change-transaction.js';
import type { DatabaseKind } from '../db/database.js';
import type { Tables } from '../db/schema.js';
import { timeOrderedUuid } from '../db/uuid.js';
import { Forbidden, NotFound, ValidationFailed } from '../http/errors.js';
import type { FeedLog, Recorded } from '../messages/ports.js';
import type { MessagesRepository } from '../messages/repository.js';
import { groupEntry, leftEntry, localUsers, type GroupAnnouncements, type GroupChange } from './announce.js';
import { checkGroupName, mayManage, mayRemove, nextOwner } from './rules.js';
import { groupSummary, type GroupSummaryView, type GroupView } from './view.js';

export interface GroupStores {
  db: Kysely<Tables>;
  kind: DatabaseKind;
  conversations: ConversationsRepository;
  groups: GroupQueries;
  messages: MessagesRepository;
  feed: FeedLog;
}

export interface GroupOptions {
  /** This backend's name: the home of the groups it holds. */
  serverName: string;
  /** GROUP_MAX_MEMBERS, the owner included. */
  maxMembers: number;
}

type User = { id: number; username: string };

// Resolving a long member list a few names at a time keeps the database pool free for others.
const RESOLVE_CHUNK = 25;

export class GroupsService {
  constructor(
    private readonly stores: GroupStores,
    private readonly resolver: AddressResolver,
    private readonly announcements: GroupAnnouncements,
    private readonly options: GroupOptions,
    private readonly clock: () => number,
  ) {}

  async create(user: User, input: { name: string; members: string[] }): Promise<GroupView> {
    const name = checkGroupName(input.name);
    const others = await this.resolveMembers(user, input.members);
    const now = this.clock();
    const uuid = timeOrderedUuid(now);
    const members: { member: Member; role: GroupRole }[] = [{ member: localMember(user), role: 'owner' }, ...others.map((member) => ({ member, role: 'member' as const }))];
    const change = await this.write(async (trx) => {
      const id = await this.stores.conversations.createGroup({ uuid, name, members }, now, trx);
      const userIds = members.flatMap(({ member }) => (member.kind === 'local' ? [member.userId] : []));
      return { id, recorded: await this.stores.feed.appendToFeeds(userIds.map((userId) => groupEntry(userId, id)), now, trx) };
    });
    return (await this.announcements.announce(change))!;
  }

  /** The caller's groups, newest first, each with its size. */
  async list(user: User): Promise<{ results: GroupSummaryView[] }> {
    const groups = await this.stores.groups.groupsOf(user.id);
    return { results: groups.map((group) => groupSummary(group, this.options.serverName)) };
  }

  async show(user: User, id: string): Promise<GroupView> {
    const group = await this.membershipOf(user, id);
    return (await this.announcements.viewOf(group.id))!;
  }

  /** Renames the group (owner and admins). */
  async rename(user: User, id: string, input: string): Promise<GroupView> {
    const group = await this.membershipOf(user, id);
    requireManager(group);
    const name = checkGroupName(input);
    const change = await this.write(async (trx) => {
      const current = requireManager(await this.recheck(user, group, trx));
      if (current.name === name) return { id: group.id, recorded: [] };
      await this.stores.conversations.rename(group.id, name, trx);
      return { id: group.id, recorded: await this.tellMembers(group.id, trx) };
    });
    return (await this.announcements.announce(change))!;
  }

  /** Adds a member (owner and admins); adding a member twice changes nothing. */
  async addMember(user: User, id: string, address: string): Promise<GroupView> {
    const group = await this.membershipOf(user, id);
    requireManager(group);
    const member = await this.resolver.resolve(address);
    if (!member) throw new ValidationFailed({ user: [`No such user: ${address}.`] });
    if (member.kind === 'remote') throw new ValidationFailed({ user: [notHere(address)] });
    const change = await this.write(async (trx) => {
      requireManager(await this.recheck(user, group, trx));
      const members = await this.stores.conversations.memberKeys(group.id, trx);
      if (members.some((row) => row.memberKey === memberKey(member))) return { id: group.id, recorded: [] };
      if (members.length + 1 > this.options.maxMembers) throw new ValidationFailed({ user: [this.tooMany()] });
      await this.stores.conversations.addMember(group.id, member, this.clock(), trx);
      return { id: group.id, recorded: await this.tellMembers(group.id, trx) };
    });
    return (await this.announcements.announce(change))!;
  }

  /** Makes a member an admin or a plain member (the owner only; the owner's own role does not change this way). */
  async changeRole(user: User, id: string, address: string, role: 'admin' | 'member'): Promise<GroupView> {
    const group = await this.membershipOf(user, id);
    requireOwner(group);
    const target = await this.targetOf(address);
    const change = await this.write(async (trx) => {
      requireOwner(await this.recheck(user, group, trx));
      const row = (await this.stores.conversations.members(group.id, trx)).find((member) => member.member_key === target);
      if (!row) throw new NotFound('not_found', 'No such member.');
      if (row.role === 'owner') throw new Forbidden('forbidden', "The owner's role does not change: the owner hands over by leaving.");
      if (row.role === role) return { id: group.id, recorded: [] };
      await this.stores.conversations.setRole(group.id, target, role, trx);
      return { id: group.id, recorded: await this.tellMembers(group.id, trx) };
    });
    return (await this.announcements.announce(change))!;
  }

  /**
   * Removes a member (the owner anyone, an admin plain members), or the caller themself (leaving).
   * The owner's leaving makes the longest-standing admin, else member, owner; the last member's
   * deletes the group with its messages.
   */
  async removeMember(user: User, id: string, address: string): Promise<void> {
    const group = await this.membershipOf(user, id);
    const target = await this.targetOf(address);
    const change = await this.write(async (trx): Promise<GroupChange> => {
      const me = await this.recheck(user, group, trx);
      const members = await this.stores.conversations.members(group.id, trx);
      const leaving = members.find((member) => member.member_key === target);
      if (!leaving) throw new NotFound('not_found', 'No such member.');
      if (target !== me.memberKey && !mayRemove(me.role, leaving.role)) {
        throw new Forbidden('forbidden', me.role === 'member' ? 'Only the owner and admins may remove members.' : 'An admin may remove members, not the owner or another admin.');
      }
      const remaining = members.filter((member) => member !== leaving);
      // Recorded before the row goes, so that each entry follows the member's last one.
      const left = await this.stores.feed.appendToFeeds(leaving.user_id === null ? [] : [leftEntry(Number(leaving.user_id), group.uuid)], this.clock(), trx);
      if (remaining.length === 0) {
        await this.stores.messages.deleteConversation(group.id, trx);
        await this.stores.conversations.deleteGroup(group.id, trx);
        return { id: group.id, recorded: [], left: { uuid: group.uuid, recorded: left } };
      }
      const recorded = await this.stores.feed.appendToFeeds(localUsers(remaining).map((userId) => groupEntry(userId, group.id)), this.clock(), trx);
      await this.stores.conversations.removeMember(group.id, target, trx);
      const heir = leaving.role === 'owner' ? nextOwner(remaining) : undefined;
      if (heir) await this.stores.conversations.setRole(group.id, heir.member_key, 'owner', trx);
      return { id: group.id, recorded, left: { uuid: group.uuid, recorded: left } };
    });
    await this.announcements.announce(change);
  }

  /** Groups as their feed events show them (the feed's GroupViewReader). */
  async viewsOf(ids: number[]): Promise<Map<number, GroupView>> {
    const views = await Promise.all(ids.map(async (id) => [id, await this.announcements.viewOf(id as ConversationId)] as const));
    return new Map(views.flatMap(([id, view]) => (view ? [[id, view] as const] : [])));
  }

  /** The group, if the user is a member of it: 404 for any other id (not a uuid, no such group, not a member). */
  private async membershipOf(user: User, id: string): Promise<GroupMembership> {
    const group = isGroupId(id) ? await this.stores.groups.findGroup(id.toLowerCase(), user.id) : undefined;
    if (!group) throw new NotFound();
    return group;
  }

  /** The caller's membership again, under the change lock: a change made meanwhile counts. */
  private async recheck(user: User, group: GroupMembership, trx: Transaction<Tables>): Promise<GroupMembership> {
    const current = await this.stores.groups.findGroup(group.uuid, user.id, trx);
    if (!current) throw new NotFound();
    return current;
  }

  /** A member's key from the address in the path; an address that names nobody names no member. */
  private async targetOf(address: string): Promise<string> {
    const member = await this.resolver.resolve(address);
    if (!member) throw new NotFound('not_found', 'No such member.');
    return memberKey(member);
  }

  /** The members named in a new group, resolved like receivers; duplicates and the creator left out. */
  private async resolveMembers(user: User, names: string[]): Promise<Member[]> {
    const distinct = [...new Set(names)];
    // The owner plus every distinct name, the creator's included, is at least this many.
    if (distinct.length > this.options.maxMembers) throw new ValidationFailed({ members: [this.tooMany()] });
    const problems: string[] = [];
    const members = new Map<string, Member>();
    const self = memberKey(localMember(user));
    for (let start = 0; start < distinct.length; start += RESOLVE_CHUNK) {
      const chunk = distinct.slice(start, start + RESOLVE_CHUNK);
      const resolved = await Promise.all(chunk.map((name) => this.resolver.resolve(name)));
      chunk.forEach((name, index) => {
        const member = resolved[index];
        if (!member) problems.push(`No such user: ${name}.`);
        else if (member.kind === 'remote') problems.push(notHere(name));
        else if (memberKey(member) !== self) members.set(memberKey(member), member);
      });
    }
    if (problems.length > 0) throw new ValidationFailed({ members: problems });
    if (members.size + 1 > this.options.maxMembers) throw new ValidationFailed({ members: [this.tooMany()] });
    return [...members.values()];
  }

  private tooMany(): string {
    return `A group has at most ${this.options.maxMembers} members, its owner included.`;
  }

  /** A `group` entry for every local member as the group is now (added members included). */
  private async tellMembers(id: ConversationId, trx: Transaction<Tables>): Promise<Recorded[]> {
    const members = await this.stores.conversations.memberKeys(id, trx);
    const userIds = members.flatMap((member) => (member.userId === null ? [] : [member.userId]));
    return this.stores.feed.appendToFeeds(userIds.map((userId) => groupEntry(userId, id)), this.clock(), trx);
  }

  private write(change: (trx: Transaction<Tables>) => Promise<GroupChange>): Promise<GroupChange> {
    return withChangeLock(this.stores.db, this.stores.kind, change);
  }

}

function requireManager(group: GroupMembership): GroupMembership {
  if (!mayManage(group.role)) throw new Forbidden('forbidden', 'Only the owner and admins may rename the group or add members.');
  return group;
}

function requireOwner(group: GroupMembership): GroupMembership {
  if (group.role !== 'owner') throw new Forbidden('forbidden', 'Only the owner may change roles.');
  return group;
}

function notHere(address: string): string {
  return `${address} is a user of another backend: groups are on one backend for now.`;
}
