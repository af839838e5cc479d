// A member's backend asking a group's home for a change (groups.md, "Groups across backends"):
// the `group_request` is queued in the change's transaction on the group's line to the home,
// claimed for a try at once, and the caller then waits for the home's per-item answer, at most
// FEDERATION_TIMEOUT; past that, or when the home cannot be reached, the request stays queued.
import type { Transaction } from 'kysely';
import type { Tables } from '../../db/schema.js';
import { groupLine, type GroupItemResult, type GroupRequestFields, type GroupRequests, type OutboundMessage, type Outbox, type PendingGroupRequest } from '../../messages/ports.js';
import type { ConversationId } from '../../conversations/members.js';
import type { OutboxWorker } from './worker.js';

export class GroupRequestsOutbox implements GroupRequests {
  constructor(
    private readonly outbox: Outbox,
    private readonly worker: Pick<OutboxWorker, 'tryAtOnce'>,
    /** FEDERATION_TIMEOUT: how long a caller waits for the home's answer. */
    private readonly waitMs: number,
    private readonly newId: () => string,
  ) {}

  async enqueue(request: { conversationId: ConversationId; home: string; fields: GroupRequestFields }, now: number, trx: Transaction<Tables>): Promise<PendingGroupRequest> {
    const id = this.newId();
    const receiverKey = groupLine(request.fields.group);
    const entries = await this.outbox.enqueue(
      [{ messageId: null, conversationId: request.conversationId, server: request.home, receiverKey, id, group: { type: 'group_request', fields: request.fields } }],
      now,
      trx,
    );
    const entry = entries.groupItems.get(id)!;
    return { id, entryId: entry.entryId, claimed: entry.claimed, home: request.home, receiverKey, fields: request.fields, createdAt: now };
  }

  async result(pending: PendingGroupRequest): Promise<GroupItemResult> {
    const message: OutboundMessage = {
      entryId: pending.entryId,
      messageId: null,
      uuid: '',
      peer: pending.home,
      senderUserId: 0,
      sender: pending.fields.sender,
      receiverName: '',
      text: '',
      createdAt: pending.createdAt,
      group: { id: pending.id, item: { type: 'group_request', fields: pending.fields } },
    };
    const end = await this.worker.tryAtOnce(message, pending.receiverKey, pending.claimed, this.waitMs);
    if (end.status === 'queued') return 'queued';
    if (end.status === 'delivered') return { status: 200, ...(end.answer?.version !== undefined ? { version: end.answer.version } : {}) };
    // Refused without an answer of the home's own (no transactions there, or given up): final, as a refusal.
    return { status: end.answer?.status ?? 400, code: end.failureCode ?? 'failed' };
  }
}
