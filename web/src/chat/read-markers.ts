// Read state: marking what the person has in front of them read (once per message), and the
// marks the server reports on our own messages (`read` events) and their delivery status.
import type { Api, Message } from '../api.js';
import type { MapKey } from './conversation-key.js';
import type { History } from './history.js';
import type { Row } from './list.js';

type Mine = (message: Message) => boolean;

export class ReadMarkers {
  /** The highest id marked read by conversation, so each message is marked once. */
  private readonly markedUpTo = new Map<MapKey, number>();

  constructor(private readonly api: Api) {}

  /** Marks the conversation read up to its newest received message; true once the server has the mark. */
  async markRead(key: MapKey, row: Row | undefined, history: History | undefined, mine: Mine): Promise<boolean> {
    const newest = newestUnread(row, history, mine);
    if (newest === 0 || newest <= (this.markedUpTo.get(key) ?? 0)) {
      if (row && row.unread > 0 && newest === 0) row.unread = 0;
      return false;
    }
    this.markedUpTo.set(key, newest);
    markReadUpTo(row, history, newest, new Date().toISOString(), mine);
    try {
      await this.api.markRead(newest);
      return true;
    } catch {
      // Not marked after all: the next opening or message tries again.
      this.markedUpTo.delete(key);
      return false;
    }
  }
}

/** The id of the newest message of theirs not yet read, 0 when there is none. */
export function newestUnread(row: Row | undefined, history: History | undefined, mine: Mine): number {
  let newest = 0;
  for (const entry of history?.entries ?? []) {
    if (entry.message.id > newest && !mine(entry.message) && entry.message.read_at === null) newest = entry.message.id;
  }
  if (row?.last && !mine(row.last) && row.last.read_at === null) newest = Math.max(newest, row.last.id);
  return newest;
}

/** Their messages up to `upTo` read at `readAt`, as the server now has them; nothing unread left. */
export function markReadUpTo(row: Row | undefined, history: History | undefined, upTo: number, readAt: string, mine: Mine): void {
  if (row) row.unread = 0;
  setReadAt(row, history, upTo, readAt, (message) => !mine(message));
}

/** The partner read our messages up to `upTo` (a `read` event). */
export function applyRead(row: Row | undefined, history: History | undefined, upTo: number, readAt: string, mine: Mine): void {
  setReadAt(row, history, upTo, readAt, mine);
}

/** Gives the messages of one side up to `upTo` that were unread their read time, in the history and the row. */
function setReadAt(row: Row | undefined, history: History | undefined, upTo: number, readAt: string, side: Mine): void {
  const read = (message: Message) => (side(message) && message.id <= upTo && message.read_at === null ? { ...message, read_at: readAt } : message);
  for (const entry of history?.entries ?? []) entry.message = read(entry.message);
  if (row?.last) row.last = read(row.last);
}

/** A message of ours changed delivery status (a `status` event), wherever it shows. */
export function applyStatus(histories: Iterable<History>, rows: Iterable<Row>, id: number, status: Message['status']): void {
  for (const history of histories) {
    for (const entry of history.entries) if (entry.message.id === id) entry.message = { ...entry.message, status };
  }
  for (const row of rows) if (row.last?.id === id) row.last = { ...row.last, status };
}
