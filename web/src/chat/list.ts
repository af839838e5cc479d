// The conversations list: one row per conversation (a partner or a group) with its last message
// and unread count, loaded page by page and kept current by every message the page sees.
import type { Api, Conversation, GroupSummary, ListedGroup, Message } from '../api.js';
import { conversationOfSummary, group, mapKey, type ConversationKey, type MapKey } from './conversation-key.js';
import { describe } from './errors.js';

export interface Row {
  /** Named as the server writes it once known (`bob@b` for a partner first opened as `bob`). */
  conversation: ConversationKey;
  last: Message | null;
  unread: number;
  /**
   * For a row with no message yet, where it stands among the others: the seq of the event that
   * brought it (seqs and message ids are one sequence). Absent: it leads (a conversation just
   * started); 0: it trails (an empty group found on loading).
   */
  since?: number;
}

export type ListState = 'loading' | 'ready' | 'error';

/** What the list tells the store, which keeps the last id seen and the groups' names. */
export interface ListHooks {
  /** The id of every last message a page brought: the store keeps the highest seen. */
  saw(id: number): void;
  /** A group's name and size, as a page or the groups list has them. */
  named(group: GroupSummary): void;
  /** A group of the list that the groups list no longer has: left or removed while away. */
  gone(id: string): void;
  changed(): void;
}

export class ConversationRows {
  readonly rows = new Map<MapKey, Row>();
  /** Cursor of the next older page. */
  next: string | null = null;
  state: ListState = 'loading';
  error: string | null = null;
  private firstPage: Promise<void> | null = null;
  /**
   * Groups of the groups list that no page loaded so far holds: empty ones, or ones whose last
   * message is on a page not loaded yet. They trail the list once its last page is in.
   */
  private unplaced: ListedGroup[] = [];

  constructor(
    private readonly api: Api,
    private readonly hooks: ListHooks,
  ) {}

  get(conversation: ConversationKey): Row | undefined {
    return this.rows.get(mapKey(conversation));
  }

  /** Rows, most recent first; a conversation just started (no message yet) leads, an empty group found on loading trails. */
  sorted(): Row[] {
    return sortRows([...this.rows.values()]);
  }

  load(): Promise<void> {
    this.firstPage ??= this.fetchFirst();
    return this.firstPage;
  }

  /** After a failed load: the first page again, or the next one when the first is there. */
  retry(): Promise<void> {
    if (this.state === 'ready') return this.loadMore();
    this.firstPage = null;
    return this.load();
  }

  async loadMore(): Promise<void> {
    if (!this.next) return;
    try {
      const page = await this.api.conversations(this.next);
      this.merge(page.results);
      this.next = page.next;
      this.placeUnplaced();
      this.error = null;
    } catch (error) {
      this.error = describe(error);
    }
    this.hooks.changed();
  }

  /**
   * The first page again (after a reconnection, for unread counts and read state). `replace`
   * drops what the page holds of those conversations first (the feed lost what was missed).
   * Throws when the request fails.
   */
  async refresh(replace: boolean): Promise<void> {
    const [page, groups] = await Promise.all([this.api.conversations(), this.listedGroups()]);
    if (replace) for (const conversation of page.results) this.rows.delete(mapKey(conversationOfSummary(conversation)));
    this.merge(page.results);
    if (groups) {
      const listed = new Set(groups.map((one) => one.id));
      for (const row of [...this.rows.values()]) if (row.conversation.kind === 'group' && !listed.has(row.conversation.id)) this.hooks.gone(row.conversation.id);
      this.addGroups(groups);
    }
    this.state = 'ready';
  }

  /** Opening a conversation shows it in the list, even before its first message (`since`: see Row). */
  ensure(conversation: ConversationKey, since?: number): void {
    const key = mapKey(conversation);
    if (!this.rows.has(key)) this.rows.set(key, { conversation, last: null, unread: 0, ...(since === undefined ? {} : { since }) });
  }

  delete(conversation: ConversationKey): void {
    this.rows.delete(mapKey(conversation));
  }

  private async fetchFirst(): Promise<void> {
    try {
      const [page, groups] = await Promise.all([this.api.conversations(), this.listedGroups()]);
      this.merge(page.results);
      this.next = page.next;
      if (groups) this.addGroups(groups);
      this.state = 'ready';
      this.error = null;
    } catch (error) {
      this.state = this.state === 'ready' ? 'ready' : 'error';
      this.error = describe(error);
    }
    this.hooks.changed();
  }

  /**
   * Every group, for those without a message yet (the conversations list shows only the others).
   * Without it the list still stands: null, and those groups show once a later load has them.
   */
  private listedGroups(): Promise<ListedGroup[] | null> {
    return this.api.groups().then(
      (answer) => answer.results,
      () => null,
    );
  }

  private addGroups(groups: ListedGroup[]): void {
    for (const listed of groups) this.hooks.named(listed);
    this.unplaced = groups.filter((listed) => !this.rows.has(mapKey(group(listed.id))));
    this.placeUnplaced();
  }

  private placeUnplaced(): void {
    if (this.next !== null) return;
    for (const listed of this.unplaced) this.ensure(group(listed.id), 0);
    this.unplaced = [];
  }

  private merge(conversations: Conversation[]): void {
    mergeRows(this.rows, conversations);
    for (const conversation of conversations) {
      if (conversation.group) this.hooks.named(conversation.group);
      this.hooks.saw(conversation.last_message.id);
    }
  }
}

export function sortRows(rows: Row[]): Row[] {
  const recency = (row: Row) => row.last?.id ?? row.since ?? Infinity;
  return rows.sort((a, b) => recency(b) - recency(a));
}

/** The server's rows win, except where a live event already brought something newer. */
export function mergeRows(rows: Map<MapKey, Row>, conversations: Conversation[]): void {
  for (const conversation of conversations) {
    const key = mapKey(conversationOfSummary(conversation));
    const local = rows.get(key);
    if (local?.last && local.last.id > conversation.last_message.id) continue;
    rows.set(key, { conversation: conversationOfSummary(conversation), last: conversation.last_message, unread: conversation.unread });
  }
}

/**
 * Files a message in its conversation's row. A newer message becomes the row's last and counts
 * as unread when it is theirs, unread and not in front of the person (`seen`); the same message
 * again (an edit, a status) replaces the last.
 */
export function applyToRow(rows: Map<MapKey, Row>, conversation: ConversationKey, message: Message, mine: boolean, seen: boolean): void {
  const key = mapKey(conversation);
  const row = rows.get(key) ?? { conversation, last: null, unread: 0 };
  row.conversation = conversation;
  if (!row.last || message.id > row.last.id) {
    if (!mine && message.read_at === null && !seen) row.unread += 1;
    row.last = message;
  } else if (message.id === row.last.id) {
    row.last = message;
  }
  rows.set(key, row);
}
