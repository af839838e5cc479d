// The one correction a message of ours can bring: a send filed under another address than the
// server's. Pure, over the histories and rows the store holds.
import type { Message } from '../api.js';
import type { MapKey } from './conversation-key.js';
import type { History } from './history.js';
import type { Row } from './list.js';

/**
 * A message sent as `bob` may come back addressed `bob@b` (the server sent it to its one
 * peer): it belongs to that conversation, so it leaves the others that show it, and a row
 * whose last message it was falls back to the one before (or goes, with nothing before).
 * Returns the conversations it left.
 */
export function moveMisfiled(histories: Iterable<[MapKey, History]>, rows: Map<MapKey, Row>, message: Message, home: MapKey): MapKey[] {
  const left: MapKey[] = [];
  for (const [key, history] of histories) {
    if (key === home) continue;
    const index = history.entries.findIndex((entry) => entry.message.id === message.id);
    if (index < 0) continue;
    history.entries.splice(index, 1);
    left.push(key);
    const row = rows.get(key);
    if (row?.last?.id === message.id) {
      const previous = history.entries.filter((entry) => entry.message.id !== 0).at(-1)?.message ?? null;
      if (previous) row.last = previous;
      else rows.delete(key);
    }
  }
  return left;
}
