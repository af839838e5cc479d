// Messages at rest: AES-256-GCM under a key derived from STORAGE_KEY, stored as
// `v1.<key id>.<base64url(iv | ciphertext | tag)>` so rotation can find the key that sealed a value.
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto';
import { AT_REST_INFO, decodeBase64Url, deriveKey, keyId } from './keys.js';
import { pooledRandomBytes } from './random-pool.js';

const FORMAT = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID_SHAPE = /^[0-9a-f]{8}$/;

export class AtRestDecryptionError extends Error {
  constructor(detail = 'a stored message could not be decrypted') {
    super(detail);
    this.name = new.target.name;
  }
}

interface RingKey {
  id: string;
  /** Imported once: a raw key given to every cipher is imported again each time. */
  key: KeyObject;
}

// Derived keys live here rather than on the ring, so logging or serialising a ring shows no key.
const ringKeys = new WeakMap<KeyRing, RingKey[]>();

/** The current at-rest key, which seals, and the previous ones, which still open. */
export class KeyRing {
  readonly currentKeyId: string;

  constructor(current: Buffer, previous: Buffer[] = []) {
    const keys = [current, ...previous].map((raw) => ({ id: keyId(raw), key: createSecretKey(deriveKey(raw, AT_REST_INFO)) }));
    ringKeys.set(this, keys);
    this.currentKeyId = keys[0].id;
  }
}

function keysOf(ring: KeyRing): RingKey[] {
  const keys = ringKeys.get(ring);
  if (keys === undefined) throw new TypeError('not a KeyRing');
  return keys;
}

interface SealedParts {
  keyId: string;
  payload: string;
}

function splitSealed(stored: string): SealedParts | undefined {
  const parts = stored.split('.');
  if (parts.length !== 3 || parts[0] !== FORMAT || !KEY_ID_SHAPE.test(parts[1])) return undefined;
  return { keyId: parts[1], payload: parts[2] };
}

/** `associatedData` binds the value to its row (the message id), so it cannot be moved to another. */
export function sealAtRest(ring: KeyRing, plaintext: string, associatedData: string): string {
  const { id, key } = keysOf(ring)[0];
  const iv = pooledRandomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(associatedData, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  const payload = Buffer.concat([iv, ciphertext, cipher.getAuthTag()]).toString('base64url');
  return `${FORMAT}.${id}.${payload}`;
}

export function openAtRest(ring: KeyRing, stored: string, associatedData: string): string {
  const parts = splitSealed(stored);
  if (parts === undefined) throw new AtRestDecryptionError('a stored message is not in the sealed format');
  const bytes = decodeBase64Url(parts.payload);
  if (bytes === undefined || bytes.length < IV_BYTES + TAG_BYTES) throw new AtRestDecryptionError();
  // Several keys, should two ever share an 8-hex-digit id.
  const keys = keysOf(ring).filter((entry) => entry.id === parts.keyId);
  // The key id is no secret, and naming it tells an operator which removed key is missing.
  if (keys.length === 0) throw new AtRestDecryptionError(`a stored message is sealed with unknown key ${parts.keyId}`);

  const iv = bytes.subarray(0, IV_BYTES);
  const ciphertext = bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES);
  const tag = bytes.subarray(bytes.length - TAG_BYTES);
  for (const { key } of keys) {
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, iv);
      decipher.setAAD(Buffer.from(associatedData, 'utf8'));
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
    } catch {
      // Authentication failed under this key; a colliding id may belong to the next one.
    }
  }
  throw new AtRestDecryptionError();
}

/** How every value sealed with the ring's current key begins: key rotation looks for the others. */
export function currentKeyPrefix(ring: KeyRing): string {
  return `${FORMAT}.${ring.currentKeyId}.`;
}
