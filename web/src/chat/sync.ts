// Catching up after each (re)connection, and reloading when the server no longer keeps what was
// missed.
import type { Api, Message } from '../api.js';
import type { LiveState } from '../live.js';
import type { ConversationKey } from './conversation-key.js';
import { describe } from './errors.js';
import type { Histories } from './histories.js';
import type { ConversationRows } from './list.js';

const CATCH_UP_RETRY_MS = 3000;

/** The part of the store that catching up reads and drives. */
export interface SyncTarget {
  readonly list: ConversationRows;
  readonly histories: Histories;
  readonly open: ConversationKey | null;
  readonly live: LiveState;
  /** The highest message id seen so far. */
  readonly lastId: number;
  ingest(message: Message): void;
  loadHistory(conversation: ConversationKey): Promise<void>;
  /** A group's members and name again; one that is no longer ours leaves the page. */
  loadGroup(id: string): Promise<void>;
  markOpenRead(): void;
  changed(): void;
}

export class Sync {
  private retryTimer: number | undefined;

  constructor(
    private readonly api: Api,
    private readonly chat: SyncTarget,
  ) {}

  /**
   * After each (re)connection: nothing when the socket replayed the change feed from the last
   * seq handled (edits, deletes, reads and statuses included). Otherwise every message with an
   * id above the last one seen, then (after a reconnection) the conversations and groups lists
   * again for unread counts, read state and membership, and the open conversation's newest page
   * for its edits (and an open group's members).
   */
  async catchUp(first: boolean, replayed = false): Promise<void> {
    window.clearTimeout(this.retryTimer);
    const { chat } = this;
    if (replayed) {
      chat.markOpenRead();
      chat.changed();
      return;
    }
    await chat.list.load();
    // Without the list there is no last id to start from: fetch it rather than everything.
    if (chat.list.state === 'error') await chat.list.retry();
    try {
      if (chat.list.state !== 'ready') throw new Error('no conversations list');
      let after: number | null = chat.lastId;
      while (after !== null) {
        const page = await this.api.messagesAfter(after);
        for (const message of page.results) chat.ingest(message);
        chat.changed();
        after = page.next === null ? null : Number(page.next);
      }
      if (!first) {
        await chat.list.refresh(false);
        await this.reloadOpen();
      }
      chat.markOpenRead();
    } catch {
      // The socket is up but a request failed: try again shortly, unless the socket goes too
      // (the next connection catches up anyway).
      if (chat.live === 'online') this.retryTimer = window.setTimeout(() => void this.catchUp(first), CATCH_UP_RETRY_MS);
    }
    chat.changed();
  }

  /** The feed no longer has what was missed: the conversations and the histories opened, again. */
  async reload(): Promise<void> {
    const { chat } = this;
    try {
      await chat.list.refresh(true);
    } catch (error) {
      chat.list.error = describe(error);
    }
    await Promise.all([...chat.histories.values()].map((history) => chat.loadHistory(history.conversation)));
    if (chat.open?.kind === 'group') await chat.loadGroup(chat.open.id);
    chat.changed();
  }

  private async reloadOpen(): Promise<void> {
    const { open } = this.chat;
    if (open && this.chat.histories.has(open)) await this.chat.loadHistory(open);
    if (open?.kind === 'group') await this.chat.loadGroup(open.id);
  }

  dispose(): void {
    window.clearTimeout(this.retryTimer);
  }
}
