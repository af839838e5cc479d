// Key material: the Fernet key format shared with the original backend, and the HKDF
// sub-keys derived from it so that no key serves two purposes.
import { createHash, hkdfSync, randomBytes } from 'node:crypto';

export const SIGNING_INFO = 'realchat/v1/federation-signing';
export const AT_REST_INFO = 'realchat/v1/at-rest';

const KEY_BYTES = 32;
const BASE64URL = /^[A-Za-z0-9_-]*={0,2}$/;

export class InvalidKeyError extends Error {
  constructor(detail = 'a key must be 32 bytes in URL-safe base64') {
    super(detail);
    this.name = new.target.name;
  }
}

/**
 * Strict URL-safe base64: Buffer.from(text, 'base64url') silently skips characters outside
 * the alphabet, which would let a mangled key or token decode to something.
 * Padding is optional, but when present it must be complete.
 */
export function decodeBase64Url(text: string): Buffer | undefined {
  if (!BASE64URL.test(text)) return undefined;
  const unpadded = text.replace(/=+$/, '');
  if (unpadded.length % 4 === 1) return undefined;
  if (unpadded.length !== text.length && text.length % 4 !== 0) return undefined;
  return Buffer.from(unpadded, 'base64url');
}

/** URL-safe base64 with `=` padding, as Python's base64.urlsafe_b64encode writes it. */
export function encodeBase64Url(bytes: Buffer): string {
  const unpadded = bytes.toString('base64url');
  return unpadded + '='.repeat((4 - (unpadded.length % 4)) % 4);
}

/** Whether the text is a key: strict URL-safe base64 of exactly 32 bytes. */
export function isKey(text: string): boolean {
  return decodeBase64Url(text)?.length === KEY_BYTES;
}

export function decodeKey(b64: string): Buffer {
  const bytes = decodeBase64Url(b64);
  if (bytes === undefined || bytes.length !== KEY_BYTES) throw new InvalidKeyError();
  return bytes;
}

/** A new key in the format of Python's Fernet.generate_key(). */
export function generateKey(): string {
  return encodeBase64Url(randomBytes(KEY_BYTES));
}

export function deriveKey(key: Buffer, info: string): Buffer {
  if (key.length !== KEY_BYTES) throw new InvalidKeyError('a key must be 32 bytes');
  return Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), info, KEY_BYTES));
}

/**
 * Names a key in stored values and logs without revealing it: hashing a derived key rather
 * than the key itself keeps the identifier one HKDF step away from the Fernet key peers use.
 */
export function keyId(key: Buffer): string {
  return createHash('sha256').update(deriveKey(key, AT_REST_INFO)).digest('hex').slice(0, 8);
}
