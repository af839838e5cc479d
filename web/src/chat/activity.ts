// Who is typing to us, by conversation, and who is online, by user: the presence events and
// lookups, and typing indicators that lapse on their own.
import type { Api, Presence } from '../api.js';
import { mapKey, userKey, type ConversationKey, type MapKey } from './conversation-key.js';

// A typing indicator comes at most every 2 s while the partner types; past this they stopped.
const TYPING_SHOWN_MS = 3500;

export class Activity {
  /** Online state by user (`userKey`), from presence events and lookups. */
  private readonly presence = new Map<string, Presence>();
  /** Until when to say that someone types, by conversation. */
  private readonly typingUntil = new Map<MapKey, number>();
  private typingTimer: number | undefined;

  constructor(
    private readonly api: Api,
    private readonly changed: () => void,
  ) {}

  presenceOf(address: string): Presence | undefined {
    return this.presence.get(userKey(address));
  }

  isTyping(conversation: ConversationKey): boolean {
    return (this.typingUntil.get(mapKey(conversation)) ?? 0) > Date.now();
  }

  typing(conversation: ConversationKey): void {
    this.typingUntil.set(mapKey(conversation), Date.now() + TYPING_SHOWN_MS);
    window.clearTimeout(this.typingTimer);
    // Nothing else happens when the indicator lapses: the page is told to look again.
    this.typingTimer = window.setTimeout(() => this.changed(), TYPING_SHOWN_MS + 50);
  }

  /** Their message has come: what they were typing is sent. */
  stoppedTyping(conversation: ConversationKey): void {
    this.typingUntil.delete(mapKey(conversation));
  }

  /** A presence event; gone offline is no longer typing either. */
  presenceChanged(conversation: ConversationKey, user: string, presence: Presence): void {
    this.presence.set(userKey(user), presence);
    if (presence.status === 'offline') this.stoppedTyping(conversation);
  }

  async lookUp(address: string): Promise<void> {
    try {
      const found = await this.api.presence([address]);
      for (const [user, presence] of Object.entries(found)) this.presence.set(userKey(user), presence);
      this.changed();
    } catch {
      // Not a partner yet, or the server is away: presence events fill it in later.
    }
  }

  dispose(): void {
    window.clearTimeout(this.typingTimer);
  }
}
