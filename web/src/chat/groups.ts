// The groups the signed-in user is in: each one's name and size for the list, its members (with
// roles and read markers) once opened or told by an event, and the membership changes asked of
// the server. Who may do what follows spec/groups.md, in the pure functions at the end.
import { ApiError, type Api, type Group, type GroupMember, type GroupSummary, type QueuedChange, type Role } from '../api.js';
import { userKey } from './conversation-key.js';

/** What opening a group found: it is there, it is not ours (any more), or the request failed. */
export type GroupLoad = 'loaded' | 'gone' | 'failed';

export class Groups {
  private readonly summaries = new Map<string, GroupSummary>();
  private readonly full = new Map<string, Group>();

  constructor(
    private readonly api: Api,
    private readonly changed: () => void,
  ) {}

  summary(id: string): GroupSummary | undefined {
    return this.summaries.get(id);
  }

  /** The group with its members, once loaded or told by an event. */
  details(id: string): Group | undefined {
    return this.full.get(id);
  }

  /** A name and size from a list; the members already known are kept until the next event. */
  note(summary: GroupSummary): void {
    this.summaries.set(summary.id, { id: summary.id, name: summary.name, members_count: summary.members_count });
    const known = this.full.get(summary.id);
    if (known) known.name = summary.name;
  }

  /** The whole group, from an answer of the server or a `group` event. */
  put(group: Group): void {
    this.full.set(group.id, group);
    this.summaries.set(group.id, { id: group.id, name: group.name, members_count: group.members.length });
  }

  forget(id: string): void {
    this.summaries.delete(id);
    this.full.delete(id);
  }

  async load(id: string): Promise<GroupLoad> {
    try {
      this.put(await this.api.group(id));
      return 'loaded';
    } catch (error) {
      // Not a member (any more), or no such group: the server answers 404 for both.
      return error instanceof ApiError && error.status === 404 ? 'gone' : 'failed';
    } finally {
      this.changed();
    }
  }

  /** A member's read marker moved (a `read` event): it only moves forward. */
  markerMoved(id: string, user: string, upTo: number): void {
    const member = this.full.get(id)?.members.find((one) => userKey(one.user) === userKey(user));
    if (member && (member.read_up_to ?? 0) < upTo) member.read_up_to = upTo;
  }

  async create(name: string, members: string[]): Promise<Group> {
    const group = await this.api.createGroup(name, members);
    this.put(group);
    this.changed();
    return group;
  }

  rename(id: string, name: string): Promise<ChangeOutcome> {
    return this.apply(this.api.renameGroup(id, name));
  }

  add(id: string, user: string): Promise<ChangeOutcome> {
    return this.apply(this.api.addMember(id, user));
  }

  setRole(id: string, user: string, role: Exclude<Role, 'owner'>): Promise<ChangeOutcome> {
    return this.apply(this.api.setRole(id, user, role));
  }

  /** Removes someone else; the `group` event that follows brings the whole new membership. */
  async remove(id: string, user: string): Promise<ChangeOutcome> {
    if (await this.api.removeMember(id, user)) return 'queued';
    const group = this.full.get(id);
    if (group) this.put({ ...group, members: group.members.filter((member) => userKey(member.user) !== userKey(user)) });
    this.changed();
    return 'applied';
  }

  /** Leaves the group: the caller removes themself (queued, when the group's home cannot be reached now, and done when it can). */
  async leave(id: string, me: string): Promise<void> {
    await this.api.removeMember(id, me);
  }

  /** A queued change shows nothing yet: the `group` event brings it once the group's home applied it. */
  private async apply(answer: Promise<Group | QueuedChange>): Promise<ChangeOutcome> {
    const group = await answer;
    if ('status' in group) return 'queued';
    this.put(group);
    this.changed();
    return 'applied';
  }
}

/** Applied now, or queued by a member's backend until the group's home can be reached. */
export type ChangeOutcome = 'applied' | 'queued';

export function memberOf(group: Group, user: string): GroupMember | undefined {
  return group.members.find((member) => userKey(member.user) === userKey(user));
}

/** The owner and admins rename the group and add members. */
export function canManage(group: Group, me: string): boolean {
  const role = memberOf(group, me)?.role;
  return role === 'owner' || role === 'admin';
}

/** The owner removes anyone; an admin removes plain members; nobody removes themself here (that is leaving). */
export function canRemove(group: Group, me: string, member: GroupMember): boolean {
  if (userKey(member.user) === userKey(me)) return false;
  const role = memberOf(group, me)?.role;
  return role === 'owner' || (role === 'admin' && member.role === 'member');
}

/** Only the owner changes roles, and never their own. */
export function canChangeRole(group: Group, me: string, member: GroupMember): boolean {
  return memberOf(group, me)?.role === 'owner' && member.role !== 'owner';
}

/** The other members who have read up to this message of ours, in the group's order. */
export function seenBy(group: Group, me: string, id: number): string[] {
  return group.members.filter((member) => userKey(member.user) !== userKey(me) && (member.read_up_to ?? 0) >= id).map((member) => member.user);
}

/** Owner first, then admins, then members, each in the order they joined. */
export function byRole(members: GroupMember[]): GroupMember[] {
  const rank: Record<Role, number> = { owner: 0, admin: 1, member: 2 };
  return [...members].sort((a, b) => rank[a.role] - rank[b.role] || a.joined_at.localeCompare(b.joined_at));
}

/** Members as a person writes them: names separated by commas, semicolons or spaces. */
export function memberNames(text: string): string[] {
  return text.split(/[\s,;]+/).filter((name) => name !== '');
}
