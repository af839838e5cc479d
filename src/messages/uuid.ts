// Message ids for federation: UUIDv7 (RFC 9562), whose leading timestamp makes new ids land at
// the end of the uuid index instead of on a random page of it at every insert.
import { randomFillSync } from 'node:crypto';

export function timeOrderedUuid(now: number): string {
  const bytes = randomFillSync(Buffer.alloc(16));
  bytes.writeUIntBE(now, 0, 6);
  bytes[6] = (bytes[6]! & 0x0f) | 0x70;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
