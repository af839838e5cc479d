// The histories opened so far, by conversation: their pages, loaded newest first, and the
// sends in flight from this page, each shown at once and settled by the server's answer.
import type { Api, Message } from '../api.js';
import { conversationOf, historyQuery, mapKey, sendTarget, type ConversationKey, type MapKey } from './conversation-key.js';
import { describe, retryable } from './errors.js';
import { emptyHistory, pendingSend, settleSend, upsertMessage, type Entry, type History } from './history.js';

/** What the histories tell the store, which keeps the list, the read state and the last id seen. */
export interface HistoryHooks {
  mine(message: Message): boolean;
  /** A page came: the store notes its ids. */
  saw(id: number): void;
  /** A load ended, well or not: the moment to mark what is on screen read. */
  loaded(conversation: ConversationKey): void;
  /** The server has a send of ours: its conversation's row shows it. */
  sent(message: Message): void;
  changed(): void;
}

export class Histories {
  private readonly byKey = new Map<MapKey, History>();

  constructor(
    private readonly api: Api,
    private readonly hooks: HistoryHooks,
  ) {}

  get(conversation: ConversationKey): History | undefined {
    return this.byKey.get(mapKey(conversation));
  }

  has(conversation: ConversationKey): boolean {
    return this.byKey.has(mapKey(conversation));
  }

  delete(conversation: ConversationKey): void {
    this.byKey.delete(mapKey(conversation));
  }

  /** Every history opened, by its map key. */
  entries(): IterableIterator<[MapKey, History]> {
    return this.byKey.entries();
  }

  values(): IterableIterator<History> {
    return this.byKey.values();
  }

  /** Files a message in its conversation's history, when that history is open. */
  file(conversation: ConversationKey, message: Message): void {
    const history = this.get(conversation);
    if (history) upsertMessage(history, message, this.hooks.mine(message));
  }

  /** The newest page, or the next older one when `older`. */
  async load(conversation: ConversationKey, older = false): Promise<void> {
    const history = this.historyOf(conversation);
    if (older && (!history.next || history.state === 'loading')) return;
    history.state = 'loading';
    this.hooks.changed();
    try {
      const page = await this.api.history(historyQuery(conversation), older ? (history.next ?? undefined) : undefined);
      for (const message of page.results) upsertMessage(history, message, this.hooks.mine(message));
      history.next = page.next;
      history.state = 'loaded';
      history.error = null;
      for (const message of page.results) this.hooks.saw(message.id);
    } catch (error) {
      history.state = 'error';
      history.error = describe(error);
    }
    this.hooks.loaded(conversation);
    this.hooks.changed();
  }

  send(me: string, to: ConversationKey, text: string): void {
    const entry = pendingSend(me, to, text);
    this.historyOf(to).entries.push(entry);
    void this.deliver(entry);
  }

  /** Sends again with the same client id: the server answers with the first result if it had it. */
  retry(entry: Entry): void {
    if (entry.sending || !entry.error) return;
    void this.deliver(entry);
  }

  private async deliver(entry: Entry): Promise<void> {
    entry.sending = true;
    entry.error = null;
    this.hooks.changed();
    try {
      // Our own message, so its conversation is the one it was sent to.
      const to = sendTarget(conversationOf(entry.message, entry.message.sender));
      const answer = await this.api.send(to, entry.message.message, entry.clientId ?? entry.key);
      settleSend(this.holding(entry), entry, answer);
      this.hooks.saw(answer.id);
      this.hooks.sent(entry.message);
    } catch (error) {
      entry.sending = false;
      // Its echo on the WebSocket already proved the server has it: only the answer was lost.
      if (entry.message.id === 0) entry.error = { detail: describe(error), retryable: retryable(error) };
    }
    this.hooks.changed();
  }

  private historyOf(conversation: ConversationKey): History {
    const key = mapKey(conversation);
    let history = this.byKey.get(key);
    if (!history) {
      history = emptyHistory(conversation);
      this.byKey.set(key, history);
    }
    return history;
  }

  private holding(entry: Entry): History | undefined {
    for (const history of this.byKey.values()) if (history.entries.includes(entry)) return history;
    return undefined;
  }
}
