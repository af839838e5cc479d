// Fernet tokens, bit-compatible with Python's cryptography.fernet, and the original
// backend's wire form (the token base64url-encoded once more).
import { createCipheriv, createDecipheriv, createHmac, timingSafeEqual } from 'node:crypto';
import { decodeBase64Url, decodeKey, encodeBase64Url, InvalidKeyError } from './keys.js';
import { pooledRandomBytes } from './random-pool.js';

const VERSION = 0x80;
const IV_OFFSET = 1 + 8;
const HEADER_BYTES = IV_OFFSET + 16;
const HMAC_BYTES = 32;
const BLOCK_BYTES = 16;
const DEFAULT_MAX_CLOCK_SKEW_SECONDS = 60;
// The token's base64url alphabet, padding included: what a bare token may look like.
const TOKEN_SHAPE = /^[A-Za-z0-9_-]+={0,2}$/;
// 0x80 followed by the zero high bytes of any timestamp before 2106.
const BARE_TOKEN_PREFIX = 'gAAAAA';

export type FernetKey = string | Buffer;

export interface FernetDecryptOptions {
  /** Unix seconds. */
  now: number;
  ttlSeconds?: number;
  maxClockSkewSeconds?: number;
}

/** Every failure looks the same to the caller, as in Python, so nothing is learnt from which check failed. */
export class InvalidFernetToken extends Error {
  constructor() {
    super('invalid Fernet token');
    this.name = new.target.name;
  }
}

interface SplitKey {
  signing: Buffer;
  encryption: Buffer;
}

function splitKey(key: FernetKey): SplitKey {
  const bytes = typeof key === 'string' ? decodeKey(key) : key;
  if (bytes.length !== 32) throw new InvalidKeyError('a Fernet key must be 32 bytes');
  return { signing: bytes.subarray(0, 16), encryption: bytes.subarray(16, 32) };
}

export function fernetEncrypt(
  key: FernetKey,
  plaintext: string | Buffer,
  options: { now?: number; iv?: Buffer } = {},
): string {
  const { signing, encryption } = splitKey(key);
  const iv = options.iv ?? pooledRandomBytes(16);
  if (iv.length !== 16) throw new RangeError('a Fernet IV must be 16 bytes');
  const now = Math.floor(options.now ?? Date.now() / 1000);

  const header = Buffer.alloc(HEADER_BYTES);
  header[0] = VERSION;
  header.writeBigUInt64BE(BigInt(now), 1);
  iv.copy(header, IV_OFFSET);
  const cipher = createCipheriv('aes-128-cbc', encryption, header.subarray(IV_OFFSET));
  const body = Buffer.concat([header, cipher.update(plaintext), cipher.final()]);
  const hmac = createHmac('sha256', signing).update(body).digest();
  return encodeBase64Url(Buffer.concat([body, hmac], body.length + HMAC_BYTES));
}

/**
 * Python's Fernet.decrypt(token, ttl) with MultiFernet's key list; unlike Python without
 * a ttl, a token from too far in the future is always refused.
 */
export function fernetDecrypt(keys: FernetKey | FernetKey[], token: string, options: FernetDecryptOptions): Buffer {
  const keyList = Array.isArray(keys) ? keys : [keys];
  if (keyList.length === 0) throw new InvalidKeyError('at least one Fernet key is needed');
  const splitKeys = keyList.map(splitKey);

  const data = decodeBase64Url(token);
  // The shortest token holds one cipher block (PKCS7 always pads).
  if (data === undefined || data.length < HEADER_BYTES + BLOCK_BYTES + HMAC_BYTES) throw new InvalidFernetToken();
  if (data[0] !== VERSION) throw new InvalidFernetToken();
  if ((data.length - HEADER_BYTES - HMAC_BYTES) % BLOCK_BYTES !== 0) throw new InvalidFernetToken();

  const timestamp = Number(data.readBigUInt64BE(1));
  const skew = options.maxClockSkewSeconds ?? DEFAULT_MAX_CLOCK_SKEW_SECONDS;
  if (options.ttlSeconds !== undefined && timestamp + options.ttlSeconds < options.now) throw new InvalidFernetToken();
  if (options.now + skew < timestamp) throw new InvalidFernetToken();

  const signed = data.subarray(0, data.length - HMAC_BYTES);
  const mac = data.subarray(data.length - HMAC_BYTES);
  const iv = data.subarray(IV_OFFSET, HEADER_BYTES);
  const ciphertext = data.subarray(HEADER_BYTES, data.length - HMAC_BYTES);
  for (const { signing, encryption } of splitKeys) {
    const expected = createHmac('sha256', signing).update(signed).digest();
    if (!timingSafeEqual(expected, mac)) continue;
    try {
      const decipher = createDecipheriv('aes-128-cbc', encryption, iv);
      return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
    } catch {
      // Bad padding under an authentic HMAC; MultiFernet moves on to the next key whatever failed.
    }
  }
  throw new InvalidFernetToken();
}

/** The original backend's form: base64.urlsafe_b64encode(token_bytes), padded. */
export function encodeWireMessage(token: string): string {
  return encodeBase64Url(Buffer.from(token, 'ascii'));
}

/**
 * The bare Fernet token inside a wire message. Compat peers send the double-encoded form,
 * padded or not; a bare token is accepted too.
 */
export function decodeWireMessage(message: string): string {
  if (message.startsWith(BARE_TOKEN_PREFIX)) {
    if (!TOKEN_SHAPE.test(message)) throw new InvalidFernetToken();
    return message;
  }
  const inner = decodeBase64Url(message)?.toString('latin1');
  if (inner === undefined || !TOKEN_SHAPE.test(inner)) throw new InvalidFernetToken();
  return inner;
}
