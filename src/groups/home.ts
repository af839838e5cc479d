// A group's home applying what members' backends send it (groups.md, "Groups across backends"):
// a member's post (a new message, an edit, a delete, a read) and a member's request (add, remove,
// role, rename; leaving is removing oneself), each with the trust checks first (not a group of
// ours: 404; the sender not a member: 403, nothing applied), then the rules of a local request.
// What is applied then reaches every backend with members through the outbox.
import { isValidRemoteName } from '../conversations/addresses.js';
import type { GroupMembership, GroupQueries } from '../conversations/group-queries.js';
import { memberKey, remoteMember, type KnownPeer, type RemoteMember } from '../conversations/members.js';
import { Forbidden, HttpError, NotFound, ValidationFailed } from '../http/errors.js';
import type { MessageEdits } from '../messages/edits.js';
import type { GroupPostFields, GroupRequestFields } from '../messages/ports.js';
import type { ReadMarkers } from '../messages/read-markers.js';
import type { MessagesRepository } from '../messages/repository.js';
import { checkText, type MessagesService } from '../messages/service.js';
import type { GroupsService } from './service.js';

/** A member's post as the home receives it, under the item's id. */
export type InboundGroupPost = GroupPostFields & { id: string; text?: string };
export type InboundGroupRequest = GroupRequestFields & { id: string };

/** A request's first answer, kept (by federation's request receipts) for the request's repeats. */
export interface KeptAnswer {
  status: number;
  code: string | null;
  version: number | null;
}

/** Where the first answers to members' requests are kept: a transaction sent again (its answer lost) repeats its requests. */
export interface RequestAnswers {
  findAnswer(peer: string, itemId: string): Promise<KeptAnswer | undefined>;
  recordAnswer(peer: string, itemId: string, answer: KeptAnswer, now: number): Promise<void>;
}

export class GroupHome {
  constructor(
    private readonly groups: GroupQueries,
    private readonly service: GroupsService,
    private readonly messages: MessagesService,
    private readonly records: Pick<MessagesRepository, 'findByUuid'>,
    private readonly edits: MessageEdits,
    private readonly reads: ReadMarkers,
    private readonly answers: RequestAnswers,
    private readonly clock: () => number,
  ) {}

  /** A member's post: applied with the local rules, once per item (and a new message once per uuid). */
  async post(peer: KnownPeer, item: InboundGroupPost): Promise<void> {
    const { actor, membership } = await this.memberOf(peer, item.group, item.sender);
    const receipt = { peer: peer.name, requestKey: item.id };
    switch (item.kind) {
      case 'message': {
        const text = checkText(item.text ?? '');
        const stored = (await this.records.findByUuid(item.message)).some((record) => record.conversation_id === membership.id);
        if (stored) return;
        await this.messages.receiveGroupPost({ group: { id: membership.id, uuid: membership.uuid, home: null }, sender: actor, uuid: item.message, text, receipt });
        return;
      }
      case 'edit':
      case 'delete':
        await this.edits.changeInGroup({ actor, membership, op: item.kind, message: item.message, ...(item.kind === 'edit' ? { text: item.text ?? '' } : {}), receipt });
        return;
      case 'read':
        await this.reads.readInGroup({ actor, membership, message: item.message, receipt });
        return;
    }
  }

  /** A member's request, applied as GroupsService does for a local caller; answers the group's version after it. */
  async request(peer: KnownPeer, item: InboundGroupRequest): Promise<number> {
    const kept = await this.answers.findAnswer(peer.name, item.id);
    if (kept) return answered(kept);
    let answer: KeptAnswer;
    try {
      answer = { status: 200, code: null, version: await this.apply(peer, item) };
    } catch (error) {
      // A fault of ours is not an answer: the request comes again.
      if (!(error instanceof HttpError) || error.status < 400 || error.status >= 500) throw error;
      answer = { status: error.status, code: error.code, version: null };
    }
    await this.answers.recordAnswer(peer.name, item.id, answer, this.clock());
    return answered(answer);
  }

  private async apply(peer: KnownPeer, item: InboundGroupRequest): Promise<number> {
    const { actor, membership } = await this.memberOf(peer, item.group, item.sender);
    const user = item.user ?? '';
    switch (item.action) {
      case 'rename':
        await this.service.rename(actor, membership.uuid, item.name ?? '');
        break;
      case 'add':
        if (!item.user) throw new ValidationFailed({ user: ['This field is required.'] });
        await this.service.addMember(actor, membership.uuid, user);
        break;
      case 'role':
        if (!item.user || !item.role) throw new ValidationFailed({ [item.user ? 'role' : 'user']: ['This field is required.'] });
        await this.service.changeRole(actor, membership.uuid, user, item.role);
        break;
      case 'remove':
        if (!item.user) throw new ValidationFailed({ user: ['This field is required.'] });
        return this.service.removeMember(actor, membership.uuid, user);
    }
    return (await this.groups.findByUuid(membership.uuid))?.version ?? membership.version;
  }

  /** The trust checks: a group this backend is the home of (else 404), and `sender@origin` one of its members (else 403). */
  private async memberOf(peer: KnownPeer, group: string, sender: string): Promise<{ actor: RemoteMember; membership: GroupMembership }> {
    if (!isValidRemoteName(sender)) throw new ValidationFailed({ sender: ['Enter a valid user name: 1 to 150 letters, digits and _ . + - characters, without @.'] });
    const record = await this.groups.findByUuid(group);
    if (!record || record.home !== null) throw new NotFound('not_found', 'No such group here.');
    const actor = remoteMember(peer, sender);
    const membership = await this.groups.findGroupForMember(group, memberKey(actor));
    if (!membership) throw new Forbidden('forbidden', 'The sender is not a member of this group.');
    return { actor, membership };
  }
}

/** The group's version after an applied request, or the refusal it met, again. */
function answered(answer: KeptAnswer): number {
  if (answer.status !== 200) throw new HttpError(answer.status, answer.code ?? 'refused', 'The request was refused.');
  return answer.version ?? 0;
}
