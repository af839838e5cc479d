// Groups on this backend: creating one, its name, its members and their roles, leaving (the owner
// hands over; the last member out deletes the group and erases its texts). Each change is one
// change-locked transaction that re-reads the caller's membership, moves the group's version on
// and records a `group` entry in every member's feed (a `group_left` one for who left); the
// events follow once committed. Anyone who is not a member is told 404, never 403. The members
// may be users of any non-compat peer, and (at the group's home) the one asking may be one of
// them; every committed change sends the group's state to every backend with members before or
// after it (groups.md, "Groups across backends").
import type { Transaction } from 'kysely';
import { qualifiedName, type AddressResolver } from '../conversations/addresses.js';
import type { GroupMembership, GroupRecord } from '../conversations/group-queries.js';
import { isGroupId, localMember, memberKey, type ConversationId, type Member, type RemoteMember } from '../conversations/members.js';
import type { GroupRole, MemberRow } from '../conversations/repository.js';
import { withChangeLock } from '../db/change-transaction.js';
import type { Tables } from '../db/schema.js';
import { timeOrderedUuid } from '../db/uuid.js';
import { Forbidden, NotFound, ValidationFailed } from '../http/errors.js';
import { distinctServers, qualifiedAddress, type GroupSite } from '../messages/group-federation.js';
import { groupLine, type GroupMessageFields, type GroupStateFields, type Recorded } from '../messages/ports.js';
import { groupEntry, leftEntry, localUsers, type GroupAnnouncements, type GroupChange } from './announce.js';
import type { CopyRequests, Queued } from './copy-requests.js';
import { checkGroupName, mayManage, mayRemove, nextOwner, onCompatPeer } from './rules.js';
import type { GroupStores } from './stores.js';
import { groupSummary, type GroupSummaryView, type GroupView } from './view.js';

export interface GroupOptions {
  /** This backend's name: the home of the groups it holds. */
  serverName: string;
  /** GROUP_MAX_MEMBERS, the owner included. */
  maxMembers: number;
  /** Fresh ids of the items carrying the group's state. */
  newId: GroupSite['newId'];
}

type User = { id: number; username: string };

/** Who asks for a change: a user of this backend, or, at the group's home, a peer's user who is a member. */
export type GroupActor = User | RemoteMember;

/** The group before a change, as the backends that hear of it need it. */
interface Before {
  record: GroupRecord;
  servers: string[];
}

// Resolving a long member list a few names at a time keeps the database pool free for others.
const RESOLVE_CHUNK = 25;
// A late backend's history is queued this many entries per insert.
const HISTORY_CHUNK = 500;

export class GroupsService {
  constructor(
    private readonly stores: GroupStores,
    private readonly resolver: AddressResolver,
    private readonly announcements: GroupAnnouncements,
    private readonly copies: CopyRequests,
    private readonly options: GroupOptions,
    private readonly clock: () => number,
  ) {}

  async create(user: User, input: { name: string; members: string[] }): Promise<GroupView> {
    const name = checkGroupName(input.name);
    const others = await this.resolveMembers(user, input.members);
    const now = this.clock();
    const uuid = timeOrderedUuid(now);
    const members: { member: Member; role: GroupRole }[] = [{ member: localMember(user), role: 'owner' }, ...others.map((member) => ({ member, role: 'member' as const }))];
    const change = await this.write(undefined, async (trx) => {
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
  async rename(actor: GroupActor, id: string, input: string): Promise<GroupView | Queued> {
    const group = await this.membershipOf(actor, id);
    requireManager(group);
    const name = checkGroupName(input);
    if (isCopy(group, actor)) return this.viewAfter(group, await this.copies.ask(actor, group, { action: 'rename', name }));
    const change = await this.write(group, async (trx) => {
      const current = requireManager(await this.recheck(actor, group, trx));
      if (current.name === name) return { id: group.id, recorded: [] };
      await this.stores.conversations.rename(group.id, name, trx);
      return { id: group.id, recorded: await this.tellMembers(group.id, trx) };
    });
    return (await this.announcements.announce(change))!;
  }

  /** Adds a member (owner and admins); adding a member twice changes nothing. */
  async addMember(actor: GroupActor, id: string, address: string): Promise<GroupView | Queued> {
    const group = await this.membershipOf(actor, id);
    requireManager(group);
    // On a copy, a user of a backend that is no peer of ours is the home's to judge.
    const member = (await this.resolver.resolve(address)) ?? (group.home !== null ? await this.resolver.resolveQualified(address) : undefined);
    if (!member) throw new ValidationFailed({ user: [`No such user: ${address}.`] });
    if (member.kind === 'remote' && member.compat) throw new ValidationFailed({ user: [onCompatPeer(address)] });
    if (isCopy(group, actor)) {
      const members = await this.stores.conversations.memberKeys(group.id);
      if (members.some((row) => row.memberKey === memberKey(member))) return this.viewAfter(group, group.version);
      return this.viewAfter(group, await this.copies.ask(actor, group, { action: 'add', user: qualifiedAddress(member, this.options.serverName) }));
    }
    const change = await this.write(group, async (trx) => {
      requireManager(await this.recheck(actor, group, trx));
      const members = await this.stores.conversations.memberKeys(group.id, trx);
      if (members.some((row) => row.memberKey === memberKey(member))) return { id: group.id, recorded: [] };
      if (members.length + 1 > this.options.maxMembers) throw new ValidationFailed({ user: [this.tooMany()] });
      await this.stores.conversations.addMember(group.id, member, this.clock(), trx);
      return { id: group.id, recorded: await this.tellMembers(group.id, trx) };
    });
    return (await this.announcements.announce(change))!;
  }

  /** Makes a member an admin or a plain member (the owner only; the owner's own role does not change this way). */
  async changeRole(actor: GroupActor, id: string, address: string, role: 'admin' | 'member'): Promise<GroupView | Queued> {
    const group = await this.membershipOf(actor, id);
    requireOwner(group);
    if (isCopy(group, actor)) {
      const row = checkRoleChange(await this.copyMember(group, address), role);
      if (!row) return this.viewAfter(group, group.version);
      return this.viewAfter(group, await this.copies.ask(actor, group, { action: 'role', user: this.qualifiedOf(row), role }));
    }
    const target = await this.targetOf(address);
    const change = await this.write(group, async (trx) => {
      requireOwner(await this.recheck(actor, group, trx));
      const row = checkRoleChange((await this.stores.conversations.members(group.id, trx)).find((member) => member.member_key === target), role);
      if (!row) return { id: group.id, recorded: [] };
      await this.stores.conversations.setRole(group.id, target, role, trx);
      return { id: group.id, recorded: await this.tellMembers(group.id, trx) };
    });
    return (await this.announcements.announce(change))!;
  }

  /**
   * Removes a member (the owner anyone, an admin plain members), or the caller themself (leaving).
   * The owner's leaving makes the longest-standing admin, else member, owner; the last member's
   * deletes the group with its messages. Answers the group's version after it (or QUEUED, for
   * a copy whose home could not answer in time).
   */
  // A peer's user acts only at the group's home, where nothing is queued.
  async removeMember(actor: RemoteMember, id: string, address: string): Promise<number>;
  async removeMember(actor: GroupActor, id: string, address: string): Promise<number | Queued>;
  async removeMember(actor: GroupActor, id: string, address: string): Promise<number | Queued> {
    const group = await this.membershipOf(actor, id);
    if (isCopy(group, actor)) {
      const leaving = checkRemoval(group, await this.copyMember(group, address));
      return this.copies.ask(actor, group, { action: 'remove', user: this.qualifiedOf(leaving) });
    }
    const target = await this.targetOf(address);
    const change = await this.write(group, async (trx): Promise<GroupChange> => {
      const me = await this.recheck(actor, group, trx);
      const members = await this.stores.conversations.members(group.id, trx);
      const leaving = checkRemoval(me, members.find((member) => member.member_key === target));
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
    return change.version ?? group.version;
  }

  /** Groups as their feed events show them (the feed's GroupViewReader). */
  async viewsOf(ids: number[]): Promise<Map<number, GroupView>> {
    const views = await Promise.all(ids.map(async (id) => [id, await this.announcements.viewOf(id as ConversationId)] as const));
    return new Map(views.flatMap(([id, view]) => (view ? [[id, view] as const] : [])));
  }

  /**
   * The group, if the actor is a member of it: 404 for any other id (not a uuid, no such group,
   * not a member; for a peer's user, a group this backend is not the home of).
   */
  private async membershipOf(actor: GroupActor, id: string): Promise<GroupMembership> {
    const group = isGroupId(id) ? await this.stores.groups.findGroupForMember(id.toLowerCase(), memberKey(memberOf(actor))) : undefined;
    if (!group || (isRemote(actor) && group.home !== null)) throw new NotFound();
    return group;
  }

  /** The actor's membership again, under the change lock: a change made meanwhile counts. */
  private async recheck(actor: GroupActor, group: GroupMembership, trx: Transaction<Tables>): Promise<GroupMembership> {
    const current = await this.stores.groups.findGroupForMember(group.uuid, memberKey(memberOf(actor)), trx);
    if (!current) throw new NotFound();
    return current;
  }

  /** The group as it is now once its home applied a change (the copy has that version), or QUEUED. */
  private async viewAfter(group: GroupMembership, answer: number | Queued): Promise<GroupView | Queued> {
    if (typeof answer !== 'number') return answer;
    const view = await this.announcements.viewOf(group.id);
    if (!view) throw new NotFound();
    return view;
  }

  /**
   * The member of a copy the address in the path names: as this backend resolves it, or by the
   * address the copy shows (`carol@c`, a user of a backend that is no peer of ours).
   */
  private async copyMember(group: GroupMembership, address: string): Promise<MemberRow | undefined> {
    const member = await this.resolver.resolve(address);
    const key = member && memberKey(member);
    const rows = await this.stores.conversations.members(group.id);
    return rows.find((row) => row.member_key === key) ?? rows.find((row) => row.address.toLowerCase() === address.toLowerCase());
  }

  /** A member as group items name them: `name@server`, ours under our SERVER_NAME. */
  private qualifiedOf(row: MemberRow): string {
    return qualifiedName(row.name, row.server ?? this.options.serverName);
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
        else if (member.kind === 'remote' && member.compat) problems.push(onCompatPeer(name));
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

  /**
   * Runs a change in one change-locked transaction; when it changed the group (its version moved,
   * or it was created or deleted), queues the group's state to every backend with members before
   * or after it.
   */
  private write(group: GroupRecord | undefined, change: (trx: Transaction<Tables>) => Promise<GroupChange>): Promise<GroupChange> {
    return withChangeLock(this.stores.db, this.stores.kind, async (trx) => {
      const before = group && (await this.before(group.id, trx));
      const done = await change(trx);
      const [after] = await this.stores.groups.findById([done.id], trx);
      if (after && before && after.version === before.record.version) return done;
      const version = after?.version ?? before!.record.version + 1;
      const queued = await this.sendState(after ?? before!.record, version, before?.servers ?? [], trx, after === undefined);
      return { ...done, version, queued };
    });
  }

  private async before(id: ConversationId, trx: Transaction<Tables>): Promise<Before | undefined> {
    const [record] = await this.stores.groups.findById([id], trx);
    if (!record) return undefined;
    return { record, servers: serversOf(await this.stores.conversations.memberKeys(id, trx)) };
  }

  /** Queues the group's state (none of its members once deleted) to the backends with members now or before; true when there was one. */
  private async sendState(group: GroupRecord, version: number, serversBefore: string[], trx: Transaction<Tables>, deleted: boolean): Promise<boolean> {
    // A copy's changes are its home's to send.
    if (group.home !== null) return false;
    const rows = deleted ? [] : await this.stores.conversations.members(group.id, trx);
    const servers = distinctServers([...serversBefore, ...rows.flatMap((row) => (row.server === null ? [] : [row.server]))]);
    if (servers.length === 0) return false;
    const fields: GroupStateFields = {
      group: group.uuid,
      name: group.name,
      version,
      created_at: new Date(group.createdAt).toISOString(),
      members: rows.map((row) => ({ user: this.qualifiedOf(row), role: row.role, joined_at: new Date(Number(row.joined_at)).toISOString() })),
    };
    const now = this.clock();
    await this.stores.outbox.enqueue(
      servers.map((server) => ({ messageId: null, conversationId: group.id, server, receiverKey: groupLine(group.uuid), id: this.options.newId(), group: { type: 'group_state' as const, fields } })),
      now,
      trx,
    );
    const before = new Set(serversBefore.map((server) => server.toLowerCase()));
    const joined = deleted ? [] : servers.filter((server) => !before.has(server.toLowerCase()));
    if (joined.length > 0) await this.sendHistory(group, joined, trx);
    return true;
  }

  /**
   * The group's history, after its state, to backends that just got their first member: members
   * read the whole history (what was sent before they joined included) on their own backend.
   * An edited message is sent as it is now, then marked edited; a deleted one is not sent.
   */
  private async sendHistory(group: GroupRecord, servers: string[], trx: Transaction<Tables>): Promise<void> {
    const messages = await this.stores.messages.groupBackfill(group.id, trx);
    const line = groupLine(group.uuid);
    const entries = messages.flatMap((message) => {
      const sender = message.sender_user_id === null ? message.sender : qualifiedName(message.sender, this.options.serverName);
      const about = { group: group.uuid, message: message.uuid, sender };
      const items: GroupMessageFields[] = [{ ...about, kind: 'message', position: message.position ?? message.id, timestamp: new Date(message.created_at).toISOString() }];
      if (message.edited_at !== null) items.push({ ...about, kind: 'edit', timestamp: new Date(message.edited_at).toISOString() });
      return servers.flatMap((server) =>
        items.map((fields) => ({ messageId: message.id, conversationId: group.id, server, receiverKey: line, id: this.options.newId(), group: { type: 'group_message' as const, fields } })),
      );
    });
    // A few hundred rows per statement keeps each insert within the databases' limits on bound values.
    for (let start = 0; start < entries.length; start += HISTORY_CHUNK) await this.stores.outbox.enqueue(entries.slice(start, start + HISTORY_CHUNK), this.clock(), trx);
  }
}

/** A copy of a group homed elsewhere, changed by one of our users: the change is its home's to make. */
function isCopy(group: GroupMembership, actor: GroupActor): actor is User {
  return group.home !== null && !isRemote(actor);
}

/** The member whose role changes, or undefined when it is that role already; 404 for no member, 403 for the owner. */
function checkRoleChange(row: MemberRow | undefined, role: GroupRole): MemberRow | undefined {
  if (!row) throw new NotFound('not_found', 'No such member.');
  if (row.role === 'owner') throw new Forbidden('forbidden', "The owner's role does not change: the owner hands over by leaving.");
  return row.role === role ? undefined : row;
}

/** The member `me` removes (themself: leaving), if `me` may; 404 for no member, 403 for a removal the roles forbid. */
function checkRemoval(me: GroupMembership, leaving: MemberRow | undefined): MemberRow {
  if (!leaving) throw new NotFound('not_found', 'No such member.');
  if (leaving.member_key !== me.memberKey && !mayRemove(me.role, leaving.role)) {
    throw new Forbidden('forbidden', me.role === 'member' ? 'Only the owner and admins may remove members.' : 'An admin may remove members, not the owner or another admin.');
  }
  return leaving;
}

function requireManager(group: GroupMembership): GroupMembership {
  if (!mayManage(group.role)) throw new Forbidden('forbidden', 'Only the owner and admins may rename the group or add members.');
  return group;
}

function requireOwner(group: GroupMembership): GroupMembership {
  if (group.role !== 'owner') throw new Forbidden('forbidden', 'Only the owner may change roles.');
  return group;
}

function isRemote(actor: GroupActor): actor is RemoteMember {
  return 'kind' in actor;
}

function memberOf(actor: GroupActor): Member {
  return isRemote(actor) ? actor : localMember(actor);
}

function serversOf(members: readonly { server: string | null }[]): string[] {
  return members.flatMap((member) => (member.server === null ? [] : [member.server]));
}
