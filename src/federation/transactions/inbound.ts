// Inbound transactions (federation.md, "Transactions"), once the peer and its signature are
// verified: the items are opened and checked, then applied in order, each deduped by its id like
// a v1 request; a refused item is answered with its own 4xx and the rest go on. A fault of ours
// (the database busy or down) answers the whole request 503, and the peer sends it all again.
import type { Logger } from 'pino';
import { isValidRemoteName } from '../../conversations/addresses.js';
import { controlCharactersIn } from '../../unicode/control-characters.js';
import { Forbidden, HttpError, ServiceUnavailable, ValidationFailed } from '../../http/errors.js';
import type { GroupCopies } from '../../groups/copies.js';
import type { GroupHome } from '../../groups/home.js';
import type { MessageEdits } from '../../messages/edits.js';
import type { ReadMarkers } from '../../messages/read-markers.js';
import type { MessagesService } from '../../messages/service.js';
import type { Peer } from '../peers.js';
import { openTransaction, type CheckedItem, type ItemOf, type ItemRefused, type ItemResult, type TransactionAnswer, type TransactionBody, type TransactionItem } from './protocol.js';
import type { FederatedTyping } from './typing.js';

export interface InboundTransactionsOptions {
  maxAgeMs: number;
  clock: () => number;
  logger: Logger;
}

/** Where the refusals of well-formed items are kept, as their first answers. */
export interface ItemRefusals {
  findRefusals(peer: string, itemIds: string[]): Promise<Map<string, { status: number; code: string }>>;
  recordRefusals(peer: string, refusals: ItemRefused[], now: number): Promise<void>;
}

export class InboundTransactions {
  constructor(
    private readonly messages: MessagesService,
    private readonly changes: MessageEdits,
    private readonly reads: ReadMarkers,
    private readonly typing: FederatedTyping,
    private readonly home: GroupHome,
    private readonly copies: GroupCopies,
    private readonly refusals: ItemRefusals,
    private readonly options: InboundTransactionsOptions,
  ) {}

  /**
   * Applies a verified peer's transaction; one result per item, in their order. An item refused
   * before keeps that first answer (what it changes is deduped by its receipt): a peer sending an
   * id again gets what it got, whatever it sends under it now.
   */
  async apply(peer: Peer, body: TransactionBody): Promise<TransactionAnswer> {
    const opened = openTransaction(body, peer.fernetKeys, this.options.maxAgeMs, this.options.clock);
    const screened = peer.compat ? opened.map(outsideGroups) : opened;
    const refusedBefore = await this.refusals.findRefusals(peer.name, screened.flatMap((entry) => (entry.ok ? [entry.item.id] : [])));
    const checked = screened.map((entry): CheckedItem => {
      const kept = entry.ok ? refusedBefore.get(entry.item.id) : undefined;
      return entry.ok && kept ? { ok: false, result: { id: entry.item.id, ...kept } } : entry;
    });
    const results: ItemResult[] = [];
    try {
      for (let start = 0; start < checked.length; ) {
        // A run of messages (direct, or a group's new ones from its home) is written together: one write batch keeps their order.
        const run = runOf(checked, start, isMessage);
        const posts = run.length > 1 ? [] : runOf(checked, start, isNewGroupMessage);
        if (run.length > 1) results.push(...(await this.receiveMessages(peer, run)));
        else if (posts.length > 1) results.push(...(await this.receiveGroupMessages(peer, posts)));
        else results.push(await this.applyOne(peer, checked[start]!));
        start += Math.max(run.length, posts.length, 1);
      }
      // Only well-formed items' refusals are kept: a malformed item's id may be anything.
      const refused = results.filter((result, index): result is ItemRefused => 'code' in result && screened[index]!.ok && !refusedBefore.has(result.id));
      await this.refusals.recordRefusals(peer.name, refused, this.options.clock());
    } catch (error) {
      this.options.logger.error({ err: error, peer: peer.name, transaction: body.id }, 'federation: a transaction could not be applied');
      throw new ServiceUnavailable('unavailable', 'The transaction could not be applied now. Send it again later.');
    }
    return { results };
  }

  private async applyOne(peer: Peer, checked: CheckedItem): Promise<ItemResult> {
    if (!checked.ok) return checked.result;
    const { item } = checked;
    try {
      if (item.type === 'message') return (await this.receiveMessages(peer, [item]))[0]!;
      // The home answers a member's request with the group's version after it.
      if (item.type === 'group_request') return { id: item.id, status: 200, version: await this.home.request(peer, item) };
      await this.applyItem(peer, item);
      return { id: item.id, status: 200 };
    } catch (error) {
      return refusal(item.id, error);
    }
  }

  private async applyItem(peer: Peer, item: Exclude<TransactionItem, ItemOf<'message'> | ItemOf<'group_request'>>): Promise<void> {
    switch (item.type) {
      case 'edit':
      case 'delete':
        checkSender(item.sender);
        // The original backend has no such operation.
        if (peer.compat) throw new Forbidden('forbidden', 'Edits and deletes are not accepted from this peer.');
        await this.changes.receive({
          peer,
          op: item.type,
          senderName: item.sender,
          receiverName: item.receiver,
          ref: item.ref,
          ...(item.type === 'edit' ? { text: item.text } : {}),
          requestKey: item.id,
        });
        return;
      case 'read':
        checkSender(item.reader);
        await this.reads.receiveRead({ peer, reader: item.reader, partner: item.partner, upTo: item.up_to, readAt: Date.parse(item.read_at), requestKey: item.id });
        return;
      case 'group_post':
        await this.home.post(peer, item);
        return;
      case 'typing':
        // Never stored, but refused as every other item naming a user with a control character.
        // From the home, a group's indicator names a member of any backend, qualified.
        if ('to' in item) {
          checkSender(item.from);
          checkName('to', item.to);
        } else checkName('from', item.from);
        // Best effort: the answer does not wait for it, and its failure is only logged.
        this.typing.receive(peer, item).catch((error: unknown) => this.options.logger.warn({ err: error }, 'typing: could not pass on an indicator'));
        return;
      case 'group_state':
        await this.copies.applyState(peer.name, item);
        return;
      case 'group_message':
        await this.copies.applyMessage(peer.name, item);
        return;
    }
  }

  private async receiveGroupMessages(peer: Peer, items: ItemOf<'group_message'>[]): Promise<ItemResult[]> {
    const refusals = await this.copies.storeMessages(peer.name, items);
    return items.map((item, index) => (refusals[index] === undefined ? { id: item.id, status: 200 } : refusal(item.id, refusals[index])));
  }

  private async receiveMessages(peer: Peer, items: ItemOf<'message'>[]): Promise<ItemResult[]> {
    const valid = items.map((item) => isValidRemoteName(item.sender));
    const inbounds = items.filter((_, index) => valid[index]).map((item) => ({ peer, senderName: item.sender, receiverName: item.receiver, text: item.text, uuid: item.id, requestKey: item.id }));
    const outcomes = await this.messages.receiveInOrder(inbounds);
    let next = 0;
    return items.map((item, index) => {
      if (!valid[index]) return refusal(item.id, invalidSender());
      const outcome = outcomes[next++]!;
      return outcome.ok ? { id: item.id, status: 200 } : refusal(item.id, outcome.error);
    });
  }
}

/** The items from `start` on, while they passed their checks and are of the kind `test` picks. */
function runOf<T extends TransactionItem>(checked: CheckedItem[], start: number, test: (item: TransactionItem) => item is T): T[] {
  const run: T[] = [];
  for (let index = start; index < checked.length; index++) {
    const entry = checked[index]!;
    if (!entry.ok || !test(entry.item)) break;
    run.push(entry.item);
  }
  return run;
}

const GROUP_ITEMS = new Set<TransactionItem['type']>(['group_state', 'group_message', 'group_post', 'group_request']);

/**
 * The original backend has no groups (its users are never members, and it is no group's home):
 * whoever signs with a compat peer's key, its group items are refused, with nothing applied.
 */
function outsideGroups(entry: CheckedItem): CheckedItem {
  if (!entry.ok) return entry;
  const { item } = entry;
  if (!GROUP_ITEMS.has(item.type) && !(item.type === 'typing' && 'group' in item)) return entry;
  return { ok: false, result: { id: item.id, status: 403, code: 'forbidden' } };
}

function isMessage(item: TransactionItem): item is ItemOf<'message'> {
  return item.type === 'message';
}

function isNewGroupMessage(item: TransactionItem): item is ItemOf<'group_message'> {
  return item.type === 'group_message' && item.kind === 'message';
}

function checkSender(name: string): void {
  if (!isValidRemoteName(name)) throw invalidSender();
}

function checkName(field: string, name: string): void {
  const problem = controlCharactersIn(name, 'name');
  if (problem) throw new ValidationFailed({ [field]: [problem] });
}

function invalidSender(): ValidationFailed {
  return new ValidationFailed({ sender: ['Enter a valid user name: 1 to 150 letters, digits and _ . + - characters, without @.'] });
}

/** A client error of the item's own is its result; anything else is a fault of ours, for the whole request. */
function refusal(id: string, error: unknown): ItemResult {
  if (error instanceof HttpError && error.status >= 400 && error.status < 500 && error.status !== 429) return { id, status: error.status, code: error.code };
  throw error;
}
