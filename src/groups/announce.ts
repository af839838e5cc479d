// What a change of a group tells its local members, on its home or on a copy: the `group` and
// `group_left` entries recorded in their feeds with the change, and once it is committed the
// events (the group as it is now, or its id to who left).
import type { GroupQueries } from '../conversations/group-queries.js';
import type { ConversationId } from '../conversations/members.js';
import type { ConversationsRepository, MemberRow } from '../conversations/repository.js';
import type { MessageEvents } from '../messages/events.js';
import type { FeedEntry, Recorded } from '../messages/ports.js';
import { groupView, type GroupView } from './view.js';

/** What a committed change recorded: `group` entries for the members, `group_left` for who left. */
export interface GroupChange {
  id: ConversationId;
  recorded: Recorded[];
  left?: { uuid: string; recorded: Recorded[] };
  /** The group's version after it (the one its state carries). */
  version?: number;
  /** The group's state went to other backends. */
  queued?: boolean;
}

export class GroupAnnouncements {
  constructor(
    private readonly groups: GroupQueries,
    private readonly conversations: ConversationsRepository,
    private readonly events: MessageEvents,
    /** This backend's name: the home of the groups it holds itself. */
    private readonly serverName: string,
  ) {}

  /** Once committed: the group as it is now to its members' sessions, `group_left` to who left; answers the group, if it still exists. */
  async announce(change: GroupChange): Promise<GroupView | undefined> {
    const view = await this.viewOf(change.id);
    const queued = change.queued === true;
    if (view && (change.recorded.length > 0 || queued)) await this.events.emit('group.changed', { type: 'group', data: { group: view }, recorded: change.recorded, queued });
    // A deleted group's state went out with the `group_left` of its last member.
    if (change.left && (change.left.recorded.length > 0 || (!view && queued))) {
      await this.events.emit('group.changed', { type: 'group_left', data: { id: change.left.uuid }, recorded: change.left.recorded, queued: !view && queued });
    }
    return view;
  }

  async viewOf(id: ConversationId): Promise<GroupView | undefined> {
    const [group] = await this.groups.findById([id]);
    return group && groupView(group, await this.conversations.members(id), this.serverName);
  }
}

export function groupEntry(userId: number, id: ConversationId): FeedEntry {
  return { userId, type: 'group', messageId: null, conversationId: id };
}

export function leftEntry(userId: number, uuid: string): FeedEntry {
  return { userId, type: 'group_left', messageId: null, data: { id: uuid } };
}

export function localUsers(members: readonly Pick<MemberRow, 'user_id'>[]): number[] {
  return members.flatMap((member) => (member.user_id === null ? [] : [Number(member.user_id)]));
}
