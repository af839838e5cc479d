// A group as clients see it: its id, name, home backend, creation time and members (address,
// role, when they joined, how far they have read).
import type { Static } from 'typebox';
import type { GroupRecord } from '../conversations/group-queries.js';
import type { MemberRow } from '../conversations/repository.js';
import type { GroupListSchema, GroupSchema } from './schemas.js';

export type GroupView = Static<typeof GroupSchema>;
export type GroupSummaryView = Static<typeof GroupListSchema>['results'][number];

/** `home` null is this backend, shown by its server name. */
export function groupView(group: GroupRecord, members: readonly MemberRow[], serverName: string): GroupView {
  return {
    id: group.uuid,
    name: group.name,
    home: group.home ?? serverName,
    created_at: new Date(group.createdAt).toISOString(),
    members: members.map((member) => ({
      user: member.address,
      role: member.role,
      joined_at: new Date(Number(member.joined_at)).toISOString(),
      read_up_to: Number(member.read_up_to) === 0 ? null : Number(member.read_up_to),
    })),
  };
}

export function groupSummary(group: GroupRecord & { membersCount: number }, serverName: string): GroupSummaryView {
  return {
    id: group.uuid,
    name: group.name,
    home: group.home ?? serverName,
    created_at: new Date(group.createdAt).toISOString(),
    members_count: group.membersCount,
  };
}
