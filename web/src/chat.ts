// The signed-in user's conversations: the list, the histories opened so far and the sends in
// flight. Every message, whatever brought it (history, WebSocket, catch-up, a send's answer),
// goes through one upsert by id, so nothing shows twice and later changes of a message
// (status, read, edits and deletes) replace it in place. Also who is typing, and who is online.
import { ApiError, type Api, type Conversation, type Message, type Presence, type User } from './api.js';
import { keyOf, newClientId, upsertMessage, type Entry, type History } from './history.js';
import type { LiveEvent, LiveState } from './live.js';

export interface Row {
  /** The partner in address form (`bob` or `bob@b`), as the server writes it once known. */
  address: string;
  last: Message | null;
  unread: number;
}

export type ListState = 'loading' | 'ready' | 'error';

const CATCH_UP_RETRY_MS = 3000;
// A typing indicator comes at most every 2 s while the partner types; past this they stopped.
const TYPING_SHOWN_MS = 3500;

export class ChatStore {
  readonly rows = new Map<string, Row>();
  readonly histories = new Map<string, History>();
  rowsNext: string | null = null;
  listState: ListState = 'loading';
  listError: string | null = null;
  live: LiveState = 'connecting';
  /** The conversation on screen, by key. */
  open: string | null = null;
  /** Partners' online state, by key, from presence events and lookups. */
  readonly presence = new Map<string, Presence>();
  /** Partners typing to us, by key: until when to say so. */
  private readonly typingUntil = new Map<string, number>();
  private typingTimer: number | undefined;
  private lastId = 0;
  private visible = true;
  private readonly markedUpTo = new Map<string, number>();
  private readonly listeners = new Set<() => void>();
  private initialList: Promise<void> | null = null;
  private catchUpTimer: number | undefined;

  constructor(
    private readonly api: Api,
    private me: User,
    /** Asked to show another conversation (when the server names the partner differently). */
    private readonly redirect: (address: string) => void,
  ) {}

  get user(): User {
    return this.me;
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  setUser(user: User): void {
    this.me = user;
    this.changed();
  }

  /** Rows, most recent first; a conversation just started (no message yet) leads. */
  sortedRows(): Row[] {
    return [...this.rows.values()].sort((a, b) => (b.last?.id ?? Infinity) - (a.last?.id ?? Infinity));
  }

  isMine(message: Message): boolean {
    return message.sender.toLowerCase() === this.me.username.toLowerCase();
  }

  partnerOf(message: Message): string {
    return this.isMine(message) ? message.receiver : message.sender;
  }

  loadConversations(): Promise<void> {
    this.initialList ??= this.fetchConversations();
    return this.initialList;
  }

  private async fetchConversations(): Promise<void> {
    try {
      const page = await this.api.conversations();
      this.mergeRows(page.results);
      this.rowsNext = cursor(page.next);
      this.listState = 'ready';
      this.listError = null;
    } catch (error) {
      this.listState = this.listState === 'ready' ? 'ready' : 'error';
      this.listError = describe(error);
    }
    this.changed();
  }

  /** After a failed load: the first page again, or the next one when the first is there. */
  retryConversations(): Promise<void> {
    if (this.listState === 'ready') return this.loadMoreConversations();
    this.initialList = null;
    return this.loadConversations();
  }

  async loadMoreConversations(): Promise<void> {
    if (!this.rowsNext) return;
    try {
      const page = await this.api.conversations(this.rowsNext);
      this.mergeRows(page.results);
      this.rowsNext = cursor(page.next);
      this.listError = null;
    } catch (error) {
      this.listError = describe(error);
    }
    this.changed();
  }

  /** The server's rows win, except where a live event already brought something newer. */
  private mergeRows(conversations: Conversation[]): void {
    for (const conversation of conversations) {
      const key = keyOf(conversation.with);
      const local = this.rows.get(key);
      this.lastId = Math.max(this.lastId, conversation.last_message.id);
      if (local?.last && local.last.id > conversation.last_message.id) continue;
      this.rows.set(key, { address: conversation.with, last: conversation.last_message, unread: conversation.unread });
    }
  }

  openConversation(address: string | null): void {
    const key = address === null ? null : keyOf(address);
    this.open = key;
    if (address !== null && key !== null) {
      if (!this.rows.has(key)) this.rows.set(key, { address, last: null, unread: 0 });
      if (!this.histories.has(key)) void this.loadHistory(key);
      this.markRead(key);
      void this.lookUpPresence(address);
    }
    this.changed();
  }

  isTyping(key: string): boolean {
    return (this.typingUntil.get(key) ?? 0) > Date.now();
  }

  private async lookUpPresence(address: string): Promise<void> {
    try {
      const found = await this.api.presence([address]);
      for (const [user, presence] of Object.entries(found)) this.presence.set(keyOf(user), presence);
      this.changed();
    } catch {
      // Not a partner yet, or the server is away: presence events fill it in later.
    }
  }

  /** Leaves a conversation that was opened but never written in out of the list. */
  closeConversation(): void {
    const key = this.open;
    this.open = null;
    const row = key === null ? undefined : this.rows.get(key);
    if (key !== null && row && !row.last && !this.histories.get(key)?.entries.length) {
      this.rows.delete(key);
      this.histories.delete(key);
    }
    this.changed();
  }

  async loadHistory(key: string, older = false): Promise<void> {
    const history = this.historyOf(key);
    if (older && (!history.next || history.state === 'loading')) return;
    history.state = 'loading';
    this.changed();
    try {
      const page = await this.api.history(this.addressOf(key), older ? (history.next ?? undefined) : undefined);
      for (const message of page.results) upsertMessage(history, message, this.isMine(message));
      history.next = cursor(page.next);
      history.state = 'loaded';
      history.error = null;
      for (const message of page.results) this.lastId = Math.max(this.lastId, message.id);
    } catch (error) {
      history.state = 'error';
      history.error = describe(error);
    }
    this.markRead(key);
    this.changed();
  }

  send(address: string, text: string): void {
    const key = keyOf(address);
    const history = this.historyOf(key);
    const clientId = newClientId();
    const entry: Entry = {
      key: clientId,
      clientId,
      message: { id: 0, sender: this.me.username, receiver: this.addressOf(key), message: text, timestamp: new Date().toISOString(), status: 'delivered', read_at: null },
      sending: true,
      error: null,
    };
    history.entries.push(entry);
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
    this.changed();
    try {
      const answer = await this.api.send(entry.message.receiver, entry.message.message, entry.clientId ?? entry.key);
      const history = this.historyHolding(entry);
      const echo = history?.entries.find((other) => other !== entry && other.message.id === answer.id);
      if (history && echo) history.entries.splice(history.entries.indexOf(echo), 1);
      entry.message = { ...entry.message, ...echo?.message, id: answer.id, status: echo?.message.status ?? answer.status, timestamp: answer.timestamp };
      entry.sending = false;
      this.lastId = Math.max(this.lastId, answer.id);
      this.updateRow(entry.message);
    } catch (error) {
      entry.sending = false;
      // Its echo on the WebSocket already proved the server has it: only the answer was lost.
      if (entry.message.id === 0) entry.error = { detail: describe(error), retryable: error instanceof ApiError ? error.transient : true };
    }
    this.changed();
  }

  handleEvent(event: LiveEvent): void {
    switch (event.type) {
      case 'message':
      case 'message_updated':
        this.ingest(event.message);
        break;
      case 'typing':
        this.typingUntil.set(keyOf(event.from), Date.now() + TYPING_SHOWN_MS);
        window.clearTimeout(this.typingTimer);
        this.typingTimer = window.setTimeout(() => this.changed(), TYPING_SHOWN_MS + 50);
        break;
      case 'presence':
        this.presence.set(keyOf(event.user), { status: event.status, last_seen: event.last_seen });
        // Gone offline: no longer typing either.
        if (event.status === 'offline') this.typingUntil.delete(keyOf(event.user));
        break;
      case 'read':
        this.applyRead(keyOf(event.with), event.up_to, event.read_at);
        break;
      case 'status':
        this.applyStatus(event.id, event.status);
        break;
      default:
        return;
    }
    this.changed();
  }

  setLive(state: LiveState): void {
    this.live = state;
    this.changed();
  }

  setVisible(visible: boolean): void {
    this.visible = visible;
    if (visible && this.open) this.markRead(this.open);
  }

  /**
   * After each (re)connection: nothing when the socket replayed the change feed from the last
   * seq handled (edits, deletes, reads and statuses included). Otherwise every message with an
   * id above the last one seen, then (after a reconnection) the conversations list again for
   * unread counts and read state, and the open conversation's newest page for its edits.
   */
  async catchUp(first: boolean, replayed = false): Promise<void> {
    window.clearTimeout(this.catchUpTimer);
    if (replayed) {
      if (this.open) this.markRead(this.open);
      this.changed();
      return;
    }
    await this.loadConversations();
    // Without the list there is no last id to start from: fetch it rather than everything.
    if (this.listState === 'error') await this.retryConversations();
    try {
      if (this.listState !== 'ready') throw new Error('no conversations list');
      let after: number | null = this.lastId;
      while (after !== null) {
        const page = await this.api.messagesAfter(after);
        for (const message of page.results) this.ingest(message);
        this.changed();
        const next = cursor(page.next);
        after = next === null ? null : Number(next);
      }
      if (!first) {
        const page = await this.api.conversations();
        this.mergeRows(page.results);
        this.listState = 'ready';
        if (this.open && this.histories.has(this.open)) await this.loadHistory(this.open);
      }
      if (this.open) this.markRead(this.open);
    } catch {
      // The socket is up but a request failed: try again shortly, unless the socket goes too
      // (the next connection catches up anyway).
      if (this.live === 'online') this.catchUpTimer = window.setTimeout(() => void this.catchUp(first), CATCH_UP_RETRY_MS);
    }
    this.changed();
  }

  /** The feed no longer has what was missed: the conversations and the histories opened, again. */
  async reload(): Promise<void> {
    try {
      const page = await this.api.conversations();
      for (const conversation of page.results) this.rows.delete(keyOf(conversation.with));
      this.mergeRows(page.results);
      this.listState = 'ready';
    } catch (error) {
      this.listError = describe(error);
    }
    await Promise.all([...this.histories.keys()].map((key) => this.loadHistory(key)));
    this.changed();
  }

  dispose(): void {
    window.clearTimeout(this.catchUpTimer);
    window.clearTimeout(this.typingTimer);
    this.listeners.clear();
  }

  private ingest(message: Message): void {
    this.lastId = Math.max(this.lastId, message.id);
    const address = this.partnerOf(message);
    const key = keyOf(address);
    if (this.isMine(message)) this.moveMisfiled(message, key);
    // Their message has come: what they were typing is sent.
    else this.typingUntil.delete(key);
    const history = this.histories.get(key);
    if (history) upsertMessage(history, message, this.isMine(message));
    this.updateRow(message);
    if (!this.isMine(message) && this.open === key) this.markRead(key);
  }

  /**
   * A message sent as `bob` may come back addressed `bob@b` (the server sent it to its one
   * peer): it belongs to that conversation, and the page follows it there.
   */
  private moveMisfiled(message: Message, key: string): void {
    for (const [otherKey, history] of this.histories) {
      if (otherKey === key) continue;
      const index = history.entries.findIndex((entry) => entry.message.id === message.id);
      if (index < 0) continue;
      history.entries.splice(index, 1);
      const row = this.rows.get(otherKey);
      if (row?.last?.id === message.id) {
        const previous = history.entries.filter((entry) => entry.message.id !== 0).at(-1)?.message ?? null;
        if (previous) row.last = previous;
        else this.rows.delete(otherKey);
      }
      if (this.open === otherKey) this.redirect(message.receiver);
    }
  }

  private updateRow(message: Message): void {
    const address = this.partnerOf(message);
    const key = keyOf(address);
    const row = this.rows.get(key) ?? { address, last: null, unread: 0 };
    row.address = address;
    if (!row.last || message.id > row.last.id) {
      const unseen = !this.isMine(message) && message.read_at === null && !(this.open === key && this.visible);
      if (unseen) row.unread += 1;
      row.last = message;
    } else if (message.id === row.last.id) {
      row.last = message;
    }
    this.rows.set(key, row);
  }

  /** Marks the conversation read up to its newest received message, once per message. */
  private markRead(key: string): void {
    if (!this.visible) return;
    const row = this.rows.get(key);
    const history = this.histories.get(key);
    let newest = 0;
    for (const entry of history?.entries ?? []) {
      if (entry.message.id > newest && !this.isMine(entry.message) && entry.message.read_at === null) newest = entry.message.id;
    }
    if (row?.last && !this.isMine(row.last) && row.last.read_at === null) newest = Math.max(newest, row.last.id);
    if (newest === 0 || newest <= (this.markedUpTo.get(key) ?? 0)) {
      if (row && row.unread > 0 && newest === 0) row.unread = 0;
      return;
    }
    this.markedUpTo.set(key, newest);
    const readAt = new Date().toISOString();
    if (row) row.unread = 0;
    for (const entry of history?.entries ?? []) {
      if (!this.isMine(entry.message) && entry.message.id <= newest && entry.message.read_at === null) entry.message = { ...entry.message, read_at: readAt };
    }
    if (row?.last && !this.isMine(row.last) && row.last.id <= newest && row.last.read_at === null) row.last = { ...row.last, read_at: readAt };
    this.api.markRead(newest).catch(() => {
      // Not marked after all: the next opening or message tries again.
      this.markedUpTo.delete(key);
    });
  }

  private applyRead(key: string, upTo: number, readAt: string): void {
    const seen = (message: Message) => (this.isMine(message) && message.id <= upTo && message.read_at === null ? { ...message, read_at: readAt } : message);
    for (const entry of this.histories.get(key)?.entries ?? []) entry.message = seen(entry.message);
    const row = this.rows.get(key);
    if (row?.last) row.last = seen(row.last);
  }

  private applyStatus(id: number, status: Message['status']): void {
    for (const history of this.histories.values()) {
      for (const entry of history.entries) if (entry.message.id === id) entry.message = { ...entry.message, status };
    }
    for (const row of this.rows.values()) if (row.last?.id === id) row.last = { ...row.last, status };
  }

  private historyOf(key: string): History {
    let history = this.histories.get(key);
    if (!history) {
      history = { entries: [], next: null, state: 'loading', error: null };
      this.histories.set(key, history);
    }
    return history;
  }

  private historyHolding(entry: Entry): History | undefined {
    for (const history of this.histories.values()) if (history.entries.includes(entry)) return history;
    return undefined;
  }

  private addressOf(key: string): string {
    return this.rows.get(key)?.address ?? key;
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}

function cursor(next: string | number | null): string | null {
  return next === null || next === undefined ? null : String(next);
}

function describe(error: unknown): string {
  return error instanceof ApiError ? error.detail : 'Something went wrong. Try again.';
}
