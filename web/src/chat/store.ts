// The signed-in user's chat as the page shows it, composed of the list, the histories, the
// groups, the read markers, the activity and the sync. Every message, whatever brought it (history,
// WebSocket, catch-up, a send's answer), is filed by id, so nothing shows twice and later
// changes of a message (status, read, edits and deletes) replace it in place.
import type { Api, Group, Message, User } from '../api.js';
import type { LiveEvent, LiveState } from '../live.js';
import { Activity } from './activity.js';
import { conversationOf, direct, group, isMine, mapKey, userKey, type ConversationKey } from './conversation-key.js';
import { Groups, memberOf } from './groups.js';
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
  readonly groups: Groups;
  live: LiveState = 'connecting';
  /** The conversation on screen. */
  open: ConversationKey | null = null;
  /** Why the open view closed by itself (its group is no longer ours), until another opens. */
  notice: string | null = null;
  lastId = 0;
  private readonly readMarkers: ReadMarkers;
  /** Groups we asked to leave, until the server answers. */
  private readonly leaving = new Set<string>();
  private readonly sync: Sync;
  private visible = true;
  private readonly listeners = new Set<() => void>();

  constructor(
    api: Api,
    private me: User,
    /**
     * Asked to show another conversation (when the server names the partner differently), or
     * none (null: the open group is no longer ours).
     */
    private readonly redirect: (conversation: ConversationKey | null) => void,
  ) {
    const changed = () => this.changed();
    const saw = (id: number) => (this.lastId = Math.max(this.lastId, id));
    this.groups = new Groups(api, changed);
    this.list = new ConversationRows(api, { saw, named: (summary) => this.groups.note(summary), gone: (id) => this.dropGroup(id), changed });
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

  openConversation(conversation: ConversationKey): void {
    this.open = conversation;
    this.notice = null;
    this.list.ensure(conversation);
    if (!this.histories.has(conversation)) void this.loadHistory(conversation);
    this.markRead(conversation);
    if (conversation.kind === 'direct') void this.activity.lookUp([conversation.with]);
    else void this.loadGroup(conversation.id);
    this.changed();
  }

  /** Leaves a direct conversation that was opened but never written in out of the list. */
  closeConversation(): void {
    const conversation = this.open;
    this.open = null;
    const row = conversation && this.list.get(conversation);
    if (conversation?.kind === 'direct' && row && !row.last && !this.histories.get(conversation)?.entries.length) {
      this.list.delete(conversation);
      this.histories.delete(conversation);
    }
    this.changed();
  }

  /** Loads as the list names the conversation: the server's spelling of the address once known. */
  loadHistory(conversation: ConversationKey, older = false): Promise<void> {
    return this.histories.load(this.list.get(conversation)?.conversation ?? conversation, older);
  }

  send(to: ConversationKey, text: string): void {
    this.histories.send(this.me.username, to, text);
  }

  async leaveGroup(id: string): Promise<void> {
    // Our `group_left` event may come before the answer: either one closes the view.
    this.leaving.add(id);
    try {
      await this.groups.leave(id, this.me.username);
      this.dropGroup(id);
    } finally {
      this.leaving.delete(id);
    }
  }

  retry(entry: Entry): void {
    this.histories.retry(entry);
  }

  handleEvent(event: LiveEvent): void {
    switch (event.type) {
      case 'message':
        this.ingest(event.message);
        break;
      case 'message_updated':
        this.ingest(event.message);
        // A deleted message no longer counts as unread, but which ones the row counted only the
        // server knows: its row comes again.
        if (event.message.deleted && !this.isMine(event.message)) this.recount();
        break;
      case 'typing':
        this.activity.typing(event.group === undefined ? direct(event.from) : group(event.group), event.from);
        break;
      case 'presence':
        this.activity.presenceChanged(event.user, { status: event.status, last_seen: event.last_seen });
        break;
      case 'read': {
        if ('group' in event) {
          this.groups.markerMoved(event.group, event.user, event.up_to);
          break;
        }
        const conversation = direct(event.with);
        applyRead(this.list.get(conversation), this.histories.get(conversation), event.up_to, event.read_at, (message) => this.isMine(message));
        // Their read makes the conversation established: their presence can be asked now.
        if (!this.activity.presenceOf(event.with)) void this.activity.lookUp([event.with]);
        break;
      }
      case 'group':
        // Created, renamed, or its members changed; one that no longer names us is not ours.
        if (!memberOf(event.group, this.me.username)) {
          this.dropGroup(event.group.id);
          return;
        }
        this.groupChanged(event.group, event.seq);
        break;
      case 'group_left':
        this.dropGroup(event.id);
        return;
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
    const backInFront = visible && !this.visible;
    this.visible = visible;
    if (visible) this.markOpenRead();
    // What another tab or device read meanwhile reaches no event of this page (the API tells a
    // read to the partner only): the list's first page has the counts as they are now.
    if (backInFront) this.recount();
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
    if (!mine) {
      this.activity.stoppedTyping(conversation, message.sender);
    } else if (conversation.kind === 'direct') {
      const left = moveMisfiled(this.histories.entries(), this.list.rows, message, mapKey(conversation));
      if (this.open && left.includes(mapKey(this.open))) this.redirect(conversation);
    }
    // A group the page has not heard of yet (added while away): its name is needed for its row.
    if (conversation.kind === 'group' && !this.groups.summary(conversation.id)) void this.loadGroup(conversation.id);
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

  /** The group and its members' presence; a group that answers 404 is no longer ours. */
  async loadGroup(id: string): Promise<void> {
    const found = await this.groups.load(id);
    if (found === 'gone') this.dropGroup(id);
    const others = (this.groups.details(id)?.members ?? []).map((member) => member.user).filter((user) => userKey(user) !== userKey(this.me.username));
    if (found === 'loaded' && this.isOpen(group(id))) void this.activity.lookUp(others);
  }

  /** The list's first page again, for counts the server has changed without an event to this page; a failure leaves the list as it is. */
  private recount(): void {
    void this.list.refresh(false).then(() => this.changed(), () => undefined);
  }

  /** A group created, renamed or with new members: its row, and the presence of members new to an open view. */
  private groupChanged(changed: Group, seq: number | undefined): void {
    const conversation = group(changed.id);
    const joined = !this.list.get(conversation);
    this.groups.put(changed);
    this.list.ensure(conversation, seq);
    // Just added to a group that may have messages: the list's first page has its last one and our unread count.
    if (joined) this.recount();
    if (!this.isOpen(conversation)) return;
    const unknown = changed.members.map((member) => member.user).filter((user) => userKey(user) !== userKey(this.me.username) && !this.activity.presenceOf(user));
    if (unknown.length > 0) void this.activity.lookUp(unknown);
  }

  /** A group that is no longer ours (left, removed, or gone) leaves the page, and its view closes. */
  private dropGroup(id: string): void {
    const conversation = group(id);
    const name = this.groups.summary(id)?.name;
    this.list.delete(conversation);
    this.histories.delete(conversation);
    this.groups.forget(id);
    if (this.isOpen(conversation)) {
      this.open = null;
      this.notice = name === undefined ? 'You are not a member of that group.' : this.leaving.has(id) ? `You left ${name}.` : `You are no longer a member of ${name}.`;
      this.redirect(null);
    }
    this.changed();
  }

  private fileInRow(message: Message): void {
    const conversation = conversationOf(message, this.me.username);
    applyToRow(this.list.rows, conversation, message, this.isMine(message), this.isOpen(conversation) && this.visible);
  }

  /** Marks what is on screen read, once per message; a hidden page reads nothing. */
  private markRead(conversation: ConversationKey): void {
    if (!this.visible) return;
    const marked = this.readMarkers.markRead(mapKey(conversation), this.list.get(conversation), this.histories.get(conversation), (message) => this.isMine(message));
    // Reading their message can establish a direct conversation, and presence is shared only
    // then: ask again when the server did not say before.
    void marked.then((established) => {
      if (established && conversation.kind === 'direct' && !this.activity.presenceOf(conversation.with)) void this.activity.lookUp([conversation.with]);
    });
  }
}
