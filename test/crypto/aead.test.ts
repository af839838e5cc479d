// Messages at rest: sealed to their row, readable across key rotation, refused when altered.
import { describe, it, expect } from 'vitest';
import { AtRestDecryptionError, currentKeyPrefix, KeyRing, openAtRest, sealAtRest } from '../../src/crypto/aead.js';
import { decodeKey, generateKey, keyId } from '../../src/crypto/keys.js';

const MESSAGE_ID = '6f1c2a0e-8b1d-4c3e-9a57-2d0f4b6e8c11';
const OTHER_ID = '0b7e9d44-1c2a-4f6b-8e3d-5a9c7f1e2b60';

const newKey = (): Buffer => decodeKey(generateKey());

function refusal(open: () => unknown): Error {
  try {
    open();
  } catch (error) {
    expect(error).toBeInstanceOf(AtRestDecryptionError);
    return error as Error;
  }
  throw new Error('the value opened');
}

describe('sealAtRest and openAtRest', () => {
  const key = newKey();
  const ring = new KeyRing(key, []);

  it.each([
    ['text', 'hello, bob'],
    ['empty text', ''],
    ['unicode', 'ünïcödé ✓ 你好 🚀'],
  ])('round-trips %s', (_what, text) => {
    expect(openAtRest(ring, sealAtRest(ring, text, MESSAGE_ID), MESSAGE_ID)).toBe(text);
  });

  it('stores a compact ASCII value naming its format and key', () => {
    const stored = sealAtRest(ring, 'hello', MESSAGE_ID);
    expect(stored).toMatch(/^v1\.[0-9a-f]{8}\.[A-Za-z0-9_-]+$/);
    expect(stored.split('.')[1]).toBe(ring.currentKeyId);
    expect(ring.currentKeyId).toBe(keyId(key));
  });

  it('uses a fresh IV for every value', () => {
    expect(sealAtRest(ring, 'same', MESSAGE_ID)).not.toBe(sealAtRest(ring, 'same', MESSAGE_ID));
  });

  it('refuses a value copied onto another row', () => {
    const stored = sealAtRest(ring, 'hello', MESSAGE_ID);
    refusal(() => openAtRest(ring, stored, OTHER_ID));
  });

  it('opens values sealed with a previous key after rotation', () => {
    const next = newKey();
    const stored = sealAtRest(ring, 'before rotation', MESSAGE_ID);
    const rotated = new KeyRing(next, [key]);
    expect(rotated.currentKeyId).toBe(keyId(next));
    expect(openAtRest(rotated, stored, MESSAGE_ID)).toBe('before rotation');
    expect(sealAtRest(rotated, 'after', MESSAGE_ID).split('.')[1]).toBe(keyId(next));
  });

  it('refuses a value sealed with a key the ring no longer holds, naming only its id', () => {
    const stored = sealAtRest(ring, 'hello', MESSAGE_ID);
    const error = refusal(() => openAtRest(new KeyRing(newKey(), []), stored, MESSAGE_ID));
    expect(error.message).toContain(ring.currentKeyId);
  });

  it('refuses a value whose any byte was changed', () => {
    const stored = sealAtRest(ring, 'hello, bob', MESSAGE_ID);
    const [version, id, payload] = stored.split('.');
    const bytes = Buffer.from(payload, 'base64url');
    for (let index = 0; index < bytes.length; index += 1) {
      const altered = Buffer.from(bytes);
      altered[index] ^= 0x01;
      refusal(() => openAtRest(ring, `${version}.${id}.${altered.toString('base64url')}`, MESSAGE_ID));
    }
  });

  it.each([
    ['empty', () => ''],
    ['of another format', (stored: string) => stored.replace(/^v1\./, 'v2.')],
    ['with a malformed key id', (stored: string) => stored.replace(/^v1\.[0-9a-f]{8}/, 'v1.zz')],
    ['truncated', (stored: string) => stored.slice(0, 20)],
    ['with extra parts', (stored: string) => `${stored}.x`],
    ['not base64', (stored: string) => `${stored.slice(0, -4)}!!!!`],
    ['a Fernet token', () => 'gAAAAABlU_EAzJBO41g9epi526FtyJRKHDu487DUEXsWV9pd2xjQlCtnf78KQbOGoBDdpluEy6Vayqxu5UbjBi0qZR031GcgXw=='],
  ])('refuses a value that is %s', (_why, change) => {
    refusal(() => openAtRest(ring, change(sealAtRest(ring, 'hello', MESSAGE_ID)), MESSAGE_ID));
  });

  it('says nothing about the key or the text when it refuses a value', () => {
    const stored = sealAtRest(ring, 'the secret text', MESSAGE_ID);
    const message = refusal(() => openAtRest(ring, stored, OTHER_ID)).message;
    expect(message).not.toContain('secret text');
    expect(message).not.toContain(key.toString('hex'));
    expect(message).not.toContain(key.toString('base64url'));
  });

  it('shows no key when the ring itself is logged', () => {
    const shown = JSON.stringify(new KeyRing(key, [newKey()]));
    expect(shown).toBe(JSON.stringify({ currentKeyId: keyId(key) }));
  });
});

describe('currentKeyPrefix', () => {
  it('begins every value sealed with the current key, and no other: rotation looks for the others', () => {
    const old = newKey();
    const next = newKey();
    const stored = sealAtRest(new KeyRing(old, []), 'hello', MESSAGE_ID);
    const rotated = new KeyRing(next, [old]);
    expect(stored.startsWith(currentKeyPrefix(rotated))).toBe(false);
    expect(sealAtRest(rotated, 'hello', MESSAGE_ID).startsWith(currentKeyPrefix(rotated))).toBe(true);
    expect('not sealed'.startsWith(currentKeyPrefix(rotated))).toBe(false);
  });
});
