// Key format and HKDF sub-keys, checked against values computed with Python's cryptography.
import { describe, it, expect } from 'vitest';
import {
  AT_REST_INFO,
  decodeBase64Url,
  decodeKey,
  deriveKey,
  encodeBase64Url,
  generateKey,
  InvalidKeyError,
  isKey,
  keyId,
  SIGNING_INFO,
} from '../../src/crypto/keys.js';

const KEY = '7A-OK4kxlu4oaDAHJOl15QYQjK42wiKg71b__BjxMpU=';

describe('decodeKey', () => {
  it('reads a Fernet key with or without its padding', () => {
    const padded = decodeKey(KEY);
    expect(padded).toHaveLength(32);
    expect(decodeKey(KEY.slice(0, -1))).toEqual(padded);
  });

  it.each([
    ['empty', ''],
    ['too short', KEY.slice(0, 40)],
    ['too long', `${KEY.slice(0, -1)}AAAA`],
    ['standard base64 alphabet', KEY.replace(/-/g, '+').replace(/_/g, '/')],
    ['characters outside base64', `${KEY.slice(0, 20)}!${KEY.slice(21)}`],
    ['broken padding', `${KEY.slice(0, -1)}==`],
    ['surrounding whitespace', ` ${KEY}`],
  ])('refuses a key that is %s', (_why, text) => {
    expect(() => decodeKey(text)).toThrow(InvalidKeyError);
    // isKey is the same check, for callers that answer with a message of their own.
    expect(isKey(text)).toBe(false);
  });

  it('isKey accepts what decodeKey reads', () => {
    expect(isKey(KEY)).toBe(true);
    expect(isKey(KEY.slice(0, -1))).toBe(true);
  });
});

describe('generateKey', () => {
  it('makes 32 random bytes in the padded format of Fernet.generate_key()', () => {
    const key = generateKey();
    expect(key).toMatch(/^[A-Za-z0-9_-]{43}=$/);
    expect(decodeKey(key)).toHaveLength(32);
    expect(generateKey()).not.toBe(key);
  });
});

describe('deriveKey', () => {
  it('matches HKDF-SHA256 with an empty salt as Python computes it', () => {
    const key = decodeKey(KEY);
    expect(deriveKey(key, SIGNING_INFO).toString('hex')).toBe(
      'a53a2dfd4964bf3883db2dfabff9f709d4ba0a7e9588a50a75e89dd3c9c6b6fb',
    );
    expect(deriveKey(key, AT_REST_INFO).toString('hex')).toBe(
      '30a64554fbc42c2f85152174de7d58a4aff06c65bec6a42feb91f7986c3b3f21',
    );
  });

  it('refuses a key that is not 32 bytes', () => {
    expect(() => deriveKey(Buffer.alloc(16), AT_REST_INFO)).toThrow(InvalidKeyError);
  });
});

describe('keyId', () => {
  it('is a short stable name that does not reveal the key', () => {
    const key = decodeKey(KEY);
    expect(keyId(key)).toBe('1a4a6faf');
    expect(keyId(decodeKey(generateKey()))).not.toBe(keyId(key));
    expect(key.toString('hex')).not.toContain(keyId(key));
  });
});

describe('URL-safe base64', () => {
  it('writes padding as Python does and reads it back strictly', () => {
    expect(encodeBase64Url(Buffer.from([0xfb, 0xff]))).toBe('-_8=');
    expect(decodeBase64Url('-_8=')).toEqual(Buffer.from([0xfb, 0xff]));
    expect(decodeBase64Url('-_8')).toEqual(Buffer.from([0xfb, 0xff]));
    expect(decodeBase64Url('+/8=')).toBeUndefined();
    expect(decodeBase64Url('-_8==')).toBeUndefined();
    expect(decodeBase64Url('-')).toBeUndefined();
  });
});
