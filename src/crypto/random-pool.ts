// Random bytes for IVs, drawn from a buffer that one CSPRNG call fills for many of them: a call
// of its own per IV cost a send more than the cipher did. Every byte is still fresh randomness,
// handed out once.
import { randomFillSync } from 'node:crypto';

const POOL = Buffer.alloc(4096);
let offset = POOL.length;

/** `size` random bytes, as a view valid until the next call: copy them (a cipher does) at once. */
export function pooledRandomBytes(size: number): Buffer {
  if (size > POOL.length) throw new RangeError('too many bytes for the pool');
  if (offset + size > POOL.length) {
    randomFillSync(POOL);
    offset = 0;
  }
  offset += size;
  return POOL.subarray(offset - size, offset);
}
