// Reading messages: one conversation (?with=) or group (?group=, members only), catching up
// (?after=) and the conversations list (partners and groups), each a page of the views clients see.
import type { AddressResolver } from '../conversations/addresses.js';
import type { DirectConversations } from '../conversations/direct.js';
import type { GroupQueries } from '../conversations/group-queries.js';
import { isGroupId, localMember } from '../conversations/members.js';
import type { ConversationsRepository } from '../conversations/repository.js';
import { NotFound, ValidationFailed } from '../http/errors.js';
import { pageOf } from '../http/pagination.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import type { MessageRecord, MessagesRepository } from './repository.js';
import type { MessageView, MessageViews } from './view.js';

export interface ConversationView {
  with: string | null;
  group: { id: string; name: string; members_count: number } | null;
  last_message: MessageView;
  unread: number;
}

type MessagePage = { results: MessageView[]; next: string | null };

export class MessageQueries {
  constructor(
    private readonly messages: MessagesRepository,
    private readonly members: ConversationsRepository,
    private readonly direct: DirectConversations,
    private readonly groups: GroupQueries,
    private readonly resolver: AddressResolver,
    private readonly views: MessageViews,
  ) {}

  async history(user: { id: number; username: string }, withAddress: string, before: string | undefined, limit: number): Promise<MessagePage> {
    const beforeId = before === undefined ? undefined : decodeCursor(before, 'before');
    const partner = await this.resolver.resolve(withAddress);
    if (!partner) return { results: [], next: null };
    const id = await this.direct.find({ sender: localMember(user), receiver: partner });
    if (id === undefined) return { results: [], next: null };
    return this.pageOf(await this.messages.history(id, beforeId, limit + 1), limit);
  }

  /** A group's whole history, for its members (sent before they joined included); 404 for anyone else. */
  async groupHistory(user: { id: number }, groupId: string, before: string | undefined, limit: number): Promise<MessagePage> {
    const beforeId = before === undefined ? undefined : decodeCursor(before, 'before');
    const group = isGroupId(groupId) ? await this.groups.findGroup(groupId.toLowerCase(), user.id) : undefined;
    if (!group) throw new NotFound();
    // The cursor names the last message shown; the page goes on from its place in the home's order.
    const last = beforeId === undefined ? undefined : await this.messages.findById(beforeId);
    if (beforeId !== undefined && last?.conversation_id !== group.id) throw new ValidationFailed({ before: ['Invalid cursor.'] });
    const rows = await this.messages.groupHistory(group.id, last && { id: last.id, position: last.position }, limit + 1);
    return this.pageOf(rows, limit);
  }

  private pageOf(rows: MessageRecord[], limit: number): MessagePage {
    const page = pageOf(rows, limit, (last) => encodeCursor(last.id));
    return { results: page.results.map((row) => this.views.view(row)), next: page.next };
  }

  async catchUp(userId: number, afterId: number, limit: number): Promise<{ results: MessageView[]; next: string | null }> {
    const rows = await this.messages.ofMemberAfter(userId, afterId, limit + 1);
    const page = pageOf(rows, limit, (last) => String(last.id));
    return { results: page.results.map((row) => this.views.view(row)), next: page.next };
  }

  async conversations(userId: number, before: string | undefined, limit: number): Promise<{ results: ConversationView[]; next: string | null }> {
    const beforeId = before === undefined ? undefined : decodeCursor(before, 'before');
    const rows = await this.members.list(userId, beforeId, limit + 1);
    const page = pageOf(rows, limit, (last) => encodeCursor(last.lastMessageId));
    const messages = new Map((await this.messages.findByIds(page.results.map((row) => row.lastMessageId))).map((record) => [record.id, record]));
    return {
      results: page.results.map((row) => ({
        with: row.partner,
        group: row.group && { id: row.group.uuid, name: row.group.name, members_count: row.group.membersCount },
        last_message: this.views.view(messages.get(row.lastMessageId)!),
        unread: row.unread,
      })),
      next: page.next,
    };
  }
}
