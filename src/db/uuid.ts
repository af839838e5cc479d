// Ids for things that travel between backends (messages, conversations): UUIDv7 (RFC 9562), whose
// leading timestamp makes new ids land at the end of their index instead of on a random page of it.
import { randomUUID } from 'node:crypto';

export function timeOrderedUuid(now: number): string {
  // A v4 UUID (from Node's batched entropy, cheaper than a random read per id) keeps its random
  // bits and variant; the first 48 bits become the millisecond timestamp, the version 7.
  const random = randomUUID();
  const time = now.toString(16).padStart(12, '0');
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${random.slice(15)}`;
}
