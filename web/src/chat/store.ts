// The signed-in user's chat as the page shows it, composed of the list, the histories, the
// read markers, the activity and the sync. Every message, whatever brought it (history,
// WebSocket, catch-up, a send's answer), is filed by id, so nothing shows twice and later
// changes of a message (status, read, edits and deletes) replace it in place.
import type { Api, Message, User } from '../api.js';
import type { LiveEvent, LiveState } from '../live.js';
import { Activity } from './activity.js';
import { conversationOf, direct, isMine, mapKey, type ConversationKey, type DirectConversation } from './conversation-key.js';
import { Histories } from './histories.js';
import type { Entry } from './history.js';
import { applyToRow, ConversationRows } from './list.js';
import { applyRead, applyStatus, ReadMarkers } from './read-markers.js';
import { moveMisfiled } from './misfiled.js';
import { Sync, type SyncTarget } from './sync.js';

export class ChatStore implements SyncTarget {
  readonly list: ConversationRows;
  readonly histories: Histories;
  readonly activity: Activity;
  live: LiveState = 'connecting';
  /** The conversation on screen. */
  open: ConversationKey | null = null;
  lastId = 0;
  private readonly readMarkers: ReadMarkers;
  private readonly sync: Sync;
  private visible = true;
  private readonly listeners = new Set<() => void>();

  constructor(
    api: Api,
    private me: User,
    /** Asked to show another conversation (when the server names the partner differently). */
    private readonly redirect: (address: string) => void,
  ) {
    const changed = () => this.changed();
    const saw = (id: number) => (this.lastId = Math.max(this.lastId, id));
    this.list = new ConversationRows(api, saw, changed);
    this.histories = new Histories(api, { mine: (message) => this.isMine(message), saw, loaded: (conversation) => this.markRead(conversation), sent: (message) => this.fileInRow(message), changed });
    this.activity = new Activity(api, changed);
    this.readMarkers = new ReadMarkers(api);
    this.sync = new Sync(api, this);
  }

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

  isMine(message: Message): boolean {
    return isMine(message, this.me.username);
  }

  isOpen(conversation: ConversationKey): boolean {
    return this.open !== null && mapKey(this.open) === mapKey(conversation);
  }

  openConversation(conversation: DirectConversation): void {
    this.open = conversation;
    this.list.ensure(conversation);
    if (!this.histories.has(conversation)) void this.loadHistory(conversation);
    this.markRead(conversation);
    void this.activity.lookUp(conversation.with);
    this.changed();
  }

  /** Leaves a conversation that was opened but never written in out of the list. */
  closeConversation(): void {
    const conversation = this.open;
    this.open = null;
    const row = conversation && this.list.get(conversation);
    if (conversation && row && !row.last && !this.histories.get(conversation)?.entries.length) {
      this.list.delete(conversation);
      this.histories.delete(conversation);
    }
    this.changed();
  }

  /** Loads as the list names the conversation: the server's spelling of the address once known. */
  loadHistory(conversation: ConversationKey, older = false): Promise<void> {
    return this.histories.load(this.list.get(conversation)?.conversation ?? conversation, older);
  }

  send(to: DirectConversation, text: string): void {
    this.histories.send(this.me.username, to, text);
  }

  retry(entry: Entry): void {
    this.histories.retry(entry);
  }

  handleEvent(event: LiveEvent): void {
    switch (event.type) {
      case 'message':
      case 'message_updated':
        this.ingest(event.message);
        break;
      case 'typing':
        this.activity.typing(direct(event.from));
        break;
      case 'presence':
        this.activity.presenceChanged(direct(event.user), event.user, { status: event.status, last_seen: event.last_seen });
        break;
      case 'read': {
        const conversation = direct(event.with);
        applyRead(this.list.get(conversation), this.histories.get(conversation), event.up_to, event.read_at, (message) => this.isMine(message));
        break;
      }
      case 'status':
        applyStatus(this.histories.values(), this.list.rows.values(), event.id, event.status);
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
    if (visible) this.markOpenRead();
  }

  catchUp(first: boolean, replayed = false): Promise<void> {
    return this.sync.catchUp(first, replayed);
  }

  reload(): Promise<void> {
    return this.sync.reload();
  }

  dispose(): void {
    this.sync.dispose();
    this.activity.dispose();
    this.listeners.clear();
  }

  ingest(message: Message): void {
    this.lastId = Math.max(this.lastId, message.id);
    const conversation = conversationOf(message, this.me.username);
    const mine = this.isMine(message);
    if (mine) {
      const left = moveMisfiled(this.histories.entries(), this.list.rows, message, mapKey(conversation));
      if (this.open && left.includes(mapKey(this.open))) this.redirect(message.receiver);
    } else {
      this.activity.stoppedTyping(conversation);
    }
    this.histories.file(conversation, message);
    this.fileInRow(message);
    if (!mine && this.isOpen(conversation)) this.markRead(conversation);
  }

  markOpenRead(): void {
    if (this.open) this.markRead(this.open);
  }

  changed(): void {
    for (const listener of this.listeners) listener();
  }

  private fileInRow(message: Message): void {
    const conversation = conversationOf(message, this.me.username);
    applyToRow(this.list.rows, conversation, message, this.isMine(message), this.isOpen(conversation) && this.visible);
  }

  /** Marks what is on screen read, once per message; a hidden page reads nothing. */
  private markRead(conversation: ConversationKey): void {
    if (!this.visible) return;
    this.readMarkers.markRead(mapKey(conversation), this.list.get(conversation), this.histories.get(conversation), (message) => this.isMine(message));
  }
}
