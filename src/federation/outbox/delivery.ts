// An outbox entry as a federation request: the message a claimed entry carries, and one attempt
// to hand it to its peer, with the peer's answer sorted into what the worker does next.
import type { Logger } from 'pino';
import type { OutboundMessage } from '../../messages/ports.js';
import type { FederatedMessage, FederationClient } from '../client.js';
import type { PeerDirectory } from '../peers.js';
import { hadNothingToChange } from '../transactions/items.js';
import type { ClaimedEntry } from './repository.js';

/**
 * What an attempt comes to: the entry ends (delivered, refused for good, or with nothing left to
 * send), or waits to be tried again.
 */
export type AttemptOutcome = { kind: 'ended'; status: 'delivered' | 'failed'; failureCode: string | null; answer?: ItemAnswer } | { kind: 'retry'; reason: string };

/** The receiver's own answer to an item: a refusal's status, a group request's version. */
export interface ItemAnswer {
  status: number;
  version?: number;
}

/** The message a claimed entry carries; its text is still sealed in the entry, so '' here. */
export function outboundMessage(entry: ClaimedEntry): OutboundMessage {
  return {
    entryId: entry.entryId,
    messageId: entry.messageId,
    uuid: entry.uuid,
    peer: entry.peer,
    senderUserId: entry.senderUserId ?? 0,
    sender: entry.sender,
    receiverName: entry.receiverName,
    text: '',
    createdAt: entry.createdAt,
    ...(entry.op ? { op: entry.op } : {}),
    ...(entry.readerName !== undefined ? { readerName: entry.readerName } : {}),
    ...(entry.group ? { group: entry.group } : {}),
  };
}

/** The request that carries a message to its peer; a change goes under its own id, `ref` naming the message. */
export function federatedMessage(message: OutboundMessage): FederatedMessage {
  return {
    id: message.op?.id ?? message.uuid,
    sender: message.sender,
    receiver: message.receiverName,
    text: message.text,
    createdAt: message.createdAt,
    ...(message.op && message.op.kind !== 'read' ? { op: message.op.kind, ref: message.uuid } : {}),
  };
}

export class PeerDelivery {
  constructor(
    private readonly client: Pick<FederationClient, 'deliver'>,
    private readonly peers: PeerDirectory,
    private readonly logger: Logger,
  ) {}

  /** Sends a message to its peer once. */
  async attempt(message: OutboundMessage): Promise<AttemptOutcome> {
    const peer = this.peers.find(message.peer);
    if (!peer) return ended('failed', 'unknown_peer');
    // Group items travel in transactions alone: the original backend and v1 have no groups.
    if (message.group) return ended('failed', 'unsupported_by_peer');
    // The original backend has no such operation: it would store the change as a new message.
    // Read markers travel in transactions alone: v1 has no way to carry them.
    if ((message.op && peer.compat) || message.op?.kind === 'read') return ended('failed', 'unsupported_by_peer');
    const outcome = await this.client.deliver(peer, federatedMessage(message));
    if (outcome.kind === 'delivered') return ended('delivered', null);
    if (outcome.kind === 'failed') {
      const fields = { message_id: message.messageId, peer: peer.name, code: outcome.code, op: message.op?.kind };
      if (hadNothingToChange(message, outcome.code)) this.logger.debug(fields, 'outbox: the peer had nothing to change');
      else this.logger.warn(fields, 'outbox: the peer refused a message');
      return ended('failed', outcome.code);
    }
    return outcome;
  }
}

function ended(status: 'delivered' | 'failed', failureCode: string | null): AttemptOutcome {
  return { kind: 'ended', status, failureCode };
}
