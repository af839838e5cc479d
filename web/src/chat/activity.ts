// Who is typing, by conversation (in a group, several people at once), and who is online, by
// user: the presence events and lookups, and typing indicators that lapse on their own.
import type { Api, Presence } from '../api.js';
import { mapKey, userKey, type ConversationKey, type MapKey } from './conversation-key.js';

// A typing indicator comes at most every 2 s while someone types; past this they stopped.
const TYPING_SHOWN_MS = 3500;
// The presence endpoint answers for at most this many users at once.
const PRESENCE_LOOKUP_MAX = 100;

export class Activity {
  /** Online state by user (`userKey`), from presence events and lookups. */
  private readonly presence = new Map<string, Presence>();
  /** Presence events counted, and by user the count at their latest: a lookup answer older than it is stale. */
  private presenceEvents = 0;
  private readonly presenceEventAt = new Map<string, number>();
  /** By conversation, who types (by `userKey`): their address and until when to say so. */
  private readonly typingUntil = new Map<MapKey, Map<string, { name: string; until: number }>>();
  private typingTimer: number | undefined;

  constructor(
    private readonly api: Api,
    private readonly changed: () => void,
  ) {}

  presenceOf(address: string): Presence | undefined {
    return this.presence.get(userKey(address));
  }

  /** Who is typing in the conversation now, in the order they started. */
  typists(conversation: ConversationKey): string[] {
    const now = Date.now();
    return [...(this.typingUntil.get(mapKey(conversation))?.values() ?? [])].filter((typist) => typist.until > now).map((typist) => typist.name);
  }

  typing(conversation: ConversationKey, from: string): void {
    const key = mapKey(conversation);
    const typists = this.typingUntil.get(key) ?? new Map<string, { name: string; until: number }>();
    typists.set(userKey(from), { name: from, until: Date.now() + TYPING_SHOWN_MS });
    this.typingUntil.set(key, typists);
    window.clearTimeout(this.typingTimer);
    // Nothing else happens when the indicator lapses: the page is told to look again.
    this.typingTimer = window.setTimeout(() => this.changed(), TYPING_SHOWN_MS + 50);
  }

  /** Their message has come: what they were typing is sent. */
  stoppedTyping(conversation: ConversationKey, from: string): void {
    this.typingUntil.get(mapKey(conversation))?.delete(userKey(from));
  }

  /** A presence event; gone offline is no longer typing anywhere either. */
  presenceChanged(user: string, presence: Presence): void {
    this.presence.set(userKey(user), presence);
    this.presenceEventAt.set(userKey(user), ++this.presenceEvents);
    if (presence.status === 'offline') for (const typists of this.typingUntil.values()) typists.delete(userKey(user));
  }

  async lookUp(addresses: string[]): Promise<void> {
    if (addresses.length === 0) return;
    const asked = this.presenceEvents;
    try {
      const found = await this.api.presence(addresses.slice(0, PRESENCE_LOOKUP_MAX));
      for (const [user, presence] of Object.entries(found)) {
        // An event that came while the lookup was on its way is newer than its answer.
        if ((this.presenceEventAt.get(userKey(user)) ?? 0) <= asked) this.presence.set(userKey(user), presence);
      }
      this.changed();
    } catch {
      // Not a partner yet, or the server is away: presence events fill it in later.
    }
  }

  dispose(): void {
    window.clearTimeout(this.typingTimer);
  }
}
