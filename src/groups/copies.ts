// Copies of groups homed on other backends (groups.md, "Groups across backends"): for its own
// users this backend keeps the newest `group_state` a group's home sent (name, version, members
// and roles, whichever backend they are on) and the messages, edits, deletes and read markers of
// its `group_message`s, in the home's order. Only the home is believed: an item about a group
// from any other backend is refused with nothing applied. A copy exists while one of our users
// is a member; when the last one goes, it goes with its messages (their texts erased).
import type { Transaction } from 'kysely';
import { splitAddress, type AddressResolver } from '../conversations/addresses.js';
import type { GroupRecord } from '../conversations/group-queries.js';
import { addressOf, memberKey, type ConversationId, type Member } from '../conversations/members.js';
import type { CopyMember, GroupRole } from '../conversations/repository.js';
import { withChangeLock } from '../db/change-transaction.js';
import type { Tables } from '../db/schema.js';
import { Forbidden, NotFound, ValidationFailed } from '../http/errors.js';
import type { MessageEdits } from '../messages/edits.js';
import type { MessageEvents } from '../messages/events.js';
import type { Deliveries, GroupRequests, PendingGroupRequest, Recorded } from '../messages/ports.js';
import type { ReadMarkers } from '../messages/read-markers.js';
import type { MessageRecord } from '../messages/repository.js';
import { checkReceivedText } from '../messages/service.js';
import { settled } from '../messages/settled.js';
import type { MessageViews } from '../messages/view.js';
import type { MessageWriter, NewMessage } from '../messages/write.js';
import { groupEntry, leftEntry, localUsers, type GroupAnnouncements, type GroupChange } from './announce.js';
import type { CopyRequests } from './copy-requests.js';
import { checkGroupName, onCompatPeer } from './rules.js';
import type { GroupStores } from './stores.js';

/** A `group_state` item's fields: the whole group at `version` (no members: the group is gone). */
export interface GroupStateUpdate {
  group: string;
  name: string;
  version: number;
  created_at: string;
  members: { user: string; role: GroupRole; joined_at: string }[];
}

/** A `group_message` item's fields: a message in the home's order, or an edit, delete or read of one by `sender`. */
export interface GroupMessageUpdate {
  id: string;
  group: string;
  kind: 'message' | 'edit' | 'delete' | 'read';
  message: string;
  sender: string;
  position?: number;
  text?: string;
}

export interface CopyStores extends GroupStores {
  deliveries: Deliveries;
}

/** How a copy follows what its home says of messages: stores them, changes them, moves read markers. */
export interface CopyMessagePaths {
  writer: MessageWriter;
  edits: MessageEdits;
  reads: ReadMarkers;
  views: MessageViews;
}

export class GroupCopies {
  constructor(
    private readonly stores: CopyStores,
    private readonly paths: CopyMessagePaths,
    private readonly resolver: AddressResolver,
    private readonly announcements: GroupAnnouncements,
    /** Who waits for a copy to reach a version (a change asked of the home). */
    private readonly waiting: Pick<CopyRequests, 'changed'>,
    /** Requests to the home, for the users of ours it lists who do not exist. */
    private readonly requests: GroupRequests,
    private readonly events: MessageEvents,
    private readonly clock: () => number,
  ) {}

  /**
   * Takes a newer state of a group from `origin`: the copy is made (when one of our users is a
   * member: `origin` becomes its home), updated, or dropped; an older or equal version changes nothing.
   */
  async applyState(origin: string, update: GroupStateUpdate): Promise<void> {
    const state = { ...update, name: checkGroupName(update.name) };
    const { members, absent } = await this.membersOf(state.members);
    let leaving: PendingGroupRequest[] = [];
    const change = await withChangeLock(this.stores.db, this.stores.kind, async (trx): Promise<GroupChange | undefined> => {
      const copy = await this.stores.groups.findByUuid(state.group, trx);
      if (copy) requireHome(copy, origin);
      const applied = !copy ? await this.create(origin, state, members, trx) : state.version > copy.version ? await this.update(copy, state, members, trx) : undefined;
      const kept = members.some(({ member }) => member.kind === 'local');
      if (applied && kept) leaving = await this.leaveFor(absent, { id: applied.id, uuid: state.group, home: origin }, trx);
      return applied;
    });
    if (change) {
      await this.announcements.announce(change);
      this.waiting.changed(state.group);
    }
    // Sent at once, as a change asked here is; nobody waits for the answer.
    for (const pending of leaving) void this.requests.result(pending).catch(() => undefined);
  }

  /**
   * A state that lists users of ours who do not exist (the home took them on an adder's word):
   * each leaves, through the home, as this backend speaks for its own users, so that the home
   * stops counting them and sending them the group's messages.
   */
  private async leaveFor(absent: string[], copy: { id: ConversationId; uuid: string; home: string }, trx: Transaction<Tables>): Promise<PendingGroupRequest[]> {
    const asked: PendingGroupRequest[] = [];
    for (const user of absent) {
      const fields = { group: copy.uuid, sender: splitAddress(user).name, action: 'remove' as const, user };
      asked.push(await this.requests.enqueue({ conversationId: copy.id, home: copy.home, fields }, this.clock(), trx));
    }
    return asked;
  }

  /** Applies what the home of a group says happened to one of its messages (an edit, a delete, a read; a new one: storeMessages). */
  async applyMessage(origin: string, item: GroupMessageUpdate): Promise<void> {
    if (item.kind === 'message') {
      const [refusal] = await this.storeMessages(origin, [item]);
      if (refusal !== undefined) throw refusal;
      return;
    }
    const { sender, record } = await this.subjectOf(origin, item);
    if (!record) throw new NotFound('not_found', 'This group has no message with this id.');
    // A read only moves forward, so a repeat changes nothing.
    if (item.kind === 'read') return this.paths.reads.receiveGroupRead(record, { key: memberKey(sender), address: addressOf(sender) });
    if (item.kind === 'edit' && item.text === undefined) throw new ValidationFailed({ text: ['An edit needs its text.'] });
    // Our user's own edit, back from the home: applied here already.
    if (item.kind === 'edit' && record.edited_at !== null && this.paths.views.textOf(record) === item.text) return;
    await this.paths.edits.applyFromHome(record, { op: item.kind, text: item.text ?? '', receipt: { peer: origin, requestKey: item.id } });
  }

  /**
   * New messages the home ordered, in its order: written together (one write batch keeps their
   * order), each checked and answered on its own: undefined when applied, else why it was refused.
   */
  async storeMessages(origin: string, items: GroupMessageUpdate[]): Promise<unknown[]> {
    const prepared = await Promise.all(items.map((item) => settled(this.prepare(origin, item))));
    const refusals: unknown[] = prepared.map((entry) => (entry.ok ? undefined : entry.error));
    // Our users' own posts take their places first: a member who read one before the home had
    // ordered it has read past the messages placed before it, and not those placed after it.
    for (const [index, entry] of prepared.entries()) {
      if (!entry.ok || entry.value.kind !== 'own') continue;
      refusals[index] = await this.ordered(origin, entry.value.record, entry.value.position).then(() => undefined, (error: unknown) => error);
    }
    // Submitted in one go, in their order: the write batch keeps it.
    const writes = prepared.map((entry) => (entry.ok && entry.value.kind === 'new' ? settled(this.paths.writer.submit(entry.value.message)) : undefined));
    for (const [index, entry] of prepared.entries()) {
      const write = writes[index];
      if (!entry.ok || entry.value.kind !== 'new' || !write) continue;
      const written = await write;
      // Emitted in commit order, with nothing awaited in between: an event emitted after a later
      // commit's would make every member's session read the feed for the one it missed.
      if (written.ok && written.value.stored) {
        await this.events.emit('message.stored', { message: this.paths.views.view(written.value.record, entry.value.message.text), recorded: written.value.recorded, queuedForPeers: false });
      }
      if (!written.ok) refusals[index] = written.error;
    }
    return refusals;
  }

  /** What a new message of the home's becomes here: our user's own post taking its place, or a message to store. */
  private async prepare(origin: string, item: GroupMessageUpdate): Promise<{ kind: 'own'; record: MessageRecord; position: number } | { kind: 'new'; message: NewMessage }> {
    if (item.position === undefined || item.text === undefined) throw new ValidationFailed({ position: ['A message needs its position and text.'] });
    const { copy, sender, record } = await this.subjectOf(origin, item);
    if (record) return { kind: 'own', record, position: item.position };
    // A home is believed about its group, not about this backend's users: their posts leave from
    // here, so one of theirs that this copy never had is not theirs.
    if (sender.kind === 'local') throw new Forbidden('forbidden', 'A post by a user of this backend that this backend never sent.');
    const message: NewMessage = {
      uuid: item.message,
      sender,
      group: { id: copy.id, uuid: copy.uuid, home: copy.home },
      position: item.position,
      text: checkReceivedText(item.text),
      clientId: null,
      receipt: { peer: origin, requestKey: item.id },
    };
    return { kind: 'new', message };
  }

  /** The copy an item is about (only from its home), its sender, and the message it names if the copy has it. */
  private async subjectOf(origin: string, item: GroupMessageUpdate): Promise<{ copy: GroupRecord; sender: Member; record: MessageRecord | undefined }> {
    const copy = await this.stores.groups.findByUuid(item.group);
    if (!copy) throw new NotFound('not_found', 'This backend has no copy of this group.');
    requireHome(copy, origin);
    const sender = await this.resolver.resolveQualified(item.sender);
    if (!sender) throw new ValidationFailed({ sender: ['Enter a member as name@server, a user of that server.'] });
    return { copy, sender, record: await this.stores.messages.findInConversation(copy.id, item.message) };
  }

  /** Our user's own post, back from the home in its order: it takes its place, and its delivery is done. */
  private async ordered(origin: string, record: MessageRecord, position: number): Promise<void> {
    const now = this.clock();
    const { db, kind, messages, deliveries, feed } = this.stores;
    const recorded = await withChangeLock(db, kind, async (trx): Promise<Recorded | undefined> => {
      await messages.setPosition(record.id, position, trx);
      if (!(await deliveries.markDelivered(record.id, origin, trx)) || record.sender_user_id === null) return undefined;
      const [entry] = await feed.appendToFeeds([{ userId: record.sender_user_id, type: 'status', messageId: null, data: { id: record.id, status: 'delivered' } }], now, trx);
      return entry;
    });
    if (recorded) await this.events.emit('message.delivery', { messageId: record.id, status: 'delivered', recorded });
  }

  /** A first copy, when one of our users is a member; none (and nothing stored) otherwise. */
  private async create(origin: string, state: GroupStateUpdate, members: CopyMember[], trx: Transaction<Tables>): Promise<GroupChange | undefined> {
    const local = members.flatMap(({ member }) => (member.kind === 'local' ? [member.userId] : []));
    if (local.length === 0) return undefined;
    const id = await this.stores.conversations.createGroupCopy(
      { uuid: state.group, name: state.name, home: origin, version: state.version, createdAt: Date.parse(state.created_at), members },
      trx,
    );
    if (id === undefined) throw new Forbidden('forbidden', 'This id names another conversation of this backend.');
    return { id, recorded: await this.stores.feed.appendToFeeds(local.map((userId) => groupEntry(userId, id)), this.clock(), trx) };
  }

  /** The copy takes the newer state; our users no longer in it are told they left, and with none left the copy goes. */
  private async update(copy: GroupRecord, state: GroupStateUpdate, members: CopyMember[], trx: Transaction<Tables>): Promise<GroupChange> {
    const { conversations, messages, feed } = this.stores;
    const now = this.clock();
    const next = new Map(members.map((entry) => [memberKey(entry.member), entry]));
    const current = await conversations.members(copy.id, trx);
    const gone = current.filter((row) => !next.has(row.member_key));
    // Recorded before the rows go, so that each entry follows the member's last one.
    const left = { uuid: copy.uuid, recorded: await feed.appendToFeeds(localUsers(gone).map((userId) => leftEntry(userId, copy.uuid)), now, trx) };
    const staying = members.flatMap(({ member }) => (member.kind === 'local' ? [member.userId] : []));
    if (staying.length === 0) {
      await messages.deleteConversation(copy.id, trx);
      await conversations.deleteGroup(copy.id, trx);
      return { id: copy.id, recorded: [], left };
    }
    for (const row of gone) await conversations.removeMember(copy.id, row.member_key, trx);
    const roles = new Map(current.map((row) => [row.member_key, row.role]));
    for (const [key, { member, role, joinedAt }] of next) {
      const was = roles.get(key);
      if (was === undefined) await conversations.addMember(copy.id, member, joinedAt, trx, role);
      else if (was !== role) await conversations.setRole(copy.id, key, role, trx);
    }
    await conversations.setCopyState(copy.id, { name: state.name, version: state.version }, trx);
    return { id: copy.id, recorded: await feed.appendToFeeds(staying.map((userId) => groupEntry(userId, copy.id)), now, trx), left };
  }

  /**
   * The members a state lists, as this backend shows them, each once; a user of ours that does not
   * exist is left out. A compat peer's user cannot be a member: such a state is refused whole.
   */
  private async membersOf(listed: GroupStateUpdate['members']): Promise<{ members: CopyMember[]; absent: string[] }> {
    const members = new Map<string, CopyMember>();
    const absent: string[] = [];
    for (const entry of listed) {
      const member = await this.resolver.resolveQualified(entry.user);
      if (member?.kind === 'remote' && member.compat) throw new ValidationFailed({ members: [onCompatPeer(entry.user)] });
      if (member && !members.has(memberKey(member))) members.set(memberKey(member), { member, role: entry.role, joinedAt: Date.parse(entry.joined_at) });
      else if (!member && this.resolver.localNameKey(entry.user) !== undefined) absent.push(entry.user);
    }
    return { members: [...members.values()], absent };
  }
}

/** Only a copy's home speaks for it (a group of ours has no other home). */
function requireHome(copy: GroupRecord, origin: string): void {
  if (copy.home === null || copy.home.toLowerCase() !== origin.toLowerCase()) throw new Forbidden('forbidden', 'Only the home of this group may send its state and messages.');
}
