// Fernet against tokens made by Python's cryptography and the Fernet spec's own vectors.
import { readFileSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import {
  decodeWireMessage,
  encodeWireMessage,
  fernetDecrypt,
  fernetEncrypt,
  InvalidFernetToken,
} from '../../src/crypto/fernet.js';
import { decodeBase64Url, encodeBase64Url, generateKey, InvalidKeyError } from '../../src/crypto/keys.js';

// FEDERATION_MAX_AGE's default: the window tokens from peers are held to.
const FEDERATION_MAX_AGE = 300;

interface PythonVectors {
  valid: { key: string; now: number; token: string; text: string }[];
  invalid: { why: string; key: string; now: number; ttl?: number; token: string }[];
}
interface SpecGenerate {
  token: string;
  now: string;
  iv: number[];
  src: string;
  secret: string;
}
interface SpecVerify {
  token: string;
  now: string;
  ttl_sec: number;
  src: string;
  secret: string;
}
interface SpecInvalid {
  desc: string;
  token: string;
  now: string;
  ttl_sec: number;
  secret: string;
}

function fixture<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8')) as T;
}

const python = fixture<PythonVectors>('fernet.json');
const specGenerate = fixture<SpecGenerate[]>('fernet-spec-generate.json');
const specVerify = fixture<SpecVerify[]>('fernet-spec-verify.json');
const specInvalid = fixture<SpecInvalid[]>('fernet-spec-invalid.json');

const unixSeconds = (iso: string): number => Date.parse(iso) / 1000;
const NOW = 1_700_000_000;

/** The same token with one byte of its decoded form changed. */
function tamper(token: string, index: number): string {
  const bytes = decodeBase64Url(token)!;
  bytes[index < 0 ? bytes.length + index : index] ^= 0x01;
  return encodeBase64Url(bytes);
}

describe('tokens made by Python cryptography.fernet', () => {
  it.each(python.valid.map((v) => [v.text.slice(0, 24), v] as const))('decrypts %j', (_label, vector) => {
    const plaintext = fernetDecrypt(vector.key, vector.token, { now: vector.now, ttlSeconds: FEDERATION_MAX_AGE });
    expect(plaintext.toString('utf8')).toBe(vector.text);
  });

  it.each(python.valid.map((v) => [v.text.slice(0, 24), v] as const))(
    'reproduces the token of %j bit for bit from its timestamp and IV',
    (_label, vector) => {
      const bytes = decodeBase64Url(vector.token)!;
      const options = { now: Number(bytes.readBigUInt64BE(1)), iv: bytes.subarray(9, 25) };
      expect(fernetEncrypt(vector.key, vector.text, options)).toBe(vector.token);
    },
  );

  it.each(python.invalid.map((v) => [v.why, v] as const))('refuses a token %s', (_why, vector) => {
    expect(() =>
      fernetDecrypt(vector.key, vector.token, { now: vector.now, ttlSeconds: vector.ttl ?? FEDERATION_MAX_AGE }),
    ).toThrow(InvalidFernetToken);
  });
});

describe('the Fernet spec vectors', () => {
  it.each(specGenerate.map((v) => [v.src, v] as const))('generates the exact token for %j', (_src, vector) => {
    const token = fernetEncrypt(vector.secret, vector.src, { now: unixSeconds(vector.now), iv: Buffer.from(vector.iv) });
    expect(token).toBe(vector.token);
  });

  it.each(specVerify.map((v) => [v.src, v] as const))('verifies the token for %j', (_src, vector) => {
    const plaintext = fernetDecrypt(vector.secret, vector.token, {
      now: unixSeconds(vector.now),
      ttlSeconds: vector.ttl_sec,
    });
    expect(plaintext.toString('utf8')).toBe(vector.src);
  });

  it.each(specInvalid.map((v) => [v.desc, v] as const))('refuses a token with %s', (_desc, vector) => {
    expect(() =>
      fernetDecrypt(vector.secret, vector.token, { now: unixSeconds(vector.now), ttlSeconds: vector.ttl_sec }),
    ).toThrow(InvalidFernetToken);
  });
});

describe('fernetEncrypt and fernetDecrypt', () => {
  const key = generateKey();

  it.each([
    ['text', 'hello, bob'],
    ['empty text', ''],
    ['unicode', 'ünïcödé ✓ 你好 🚀'],
    ['exactly one block', 'x'.repeat(16)],
  ])('round-trips %s', (_what, text) => {
    const token = fernetEncrypt(key, text, { now: NOW });
    expect(fernetDecrypt(key, token, { now: NOW, ttlSeconds: FEDERATION_MAX_AGE }).toString('utf8')).toBe(text);
  });

  it('round-trips bytes with a raw 32-byte key', () => {
    const raw = decodeBase64Url(key)!;
    const bytes = Buffer.from([0, 255, 128, 7]);
    const token = fernetEncrypt(raw, bytes, { now: NOW });
    expect(fernetDecrypt(key, token, { now: NOW })).toEqual(bytes);
  });

  it('uses a fresh IV for every token', () => {
    expect(fernetEncrypt(key, 'same', { now: NOW })).not.toBe(fernetEncrypt(key, 'same', { now: NOW }));
  });

  it('writes padded URL-safe base64 starting as every current token does', () => {
    const token = fernetEncrypt(key, 'hello', { now: NOW });
    expect(token).toMatch(/^gAAAAA[A-Za-z0-9_-]*={0,2}$/);
    expect(token.length % 4).toBe(0);
  });

  it('refuses a token made with another key', () => {
    const token = fernetEncrypt(generateKey(), 'hello', { now: NOW });
    expect(() => fernetDecrypt(key, token, { now: NOW })).toThrow(InvalidFernetToken);
  });

  it('opens a token under any key of the list, as MultiFernet does', () => {
    const previous = generateKey();
    const token = fernetEncrypt(previous, 'hello', { now: NOW });
    expect(fernetDecrypt([key, previous], token, { now: NOW }).toString()).toBe('hello');
  });

  it.each([
    ['version', 0],
    ['timestamp', 8],
    ['IV', 12],
    ['ciphertext', 30],
    ['HMAC', -1],
  ])('refuses a token whose %s was changed', (_field, index) => {
    const token = fernetEncrypt(key, 'hello, bob', { now: NOW });
    expect(() => fernetDecrypt(key, tamper(token, index), { now: NOW })).toThrow(InvalidFernetToken);
  });

  it('says nothing about the key or the text when it refuses a token', () => {
    const other = generateKey();
    const token = fernetEncrypt(other, 'the secret text', { now: NOW });
    let error: unknown;
    try {
      fernetDecrypt(key, token, { now: NOW });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidFernetToken);
    const message = (error as Error).message;
    for (const secret of [key, other, 'secret text', token]) expect(message).not.toContain(secret);
  });

  it('refuses a key that is not a Fernet key', () => {
    expect(() => fernetEncrypt('short', 'hello')).toThrow(InvalidKeyError);
    expect(() => fernetDecrypt([], 'gAAAAA', { now: NOW })).toThrow(InvalidKeyError);
  });

  describe('time window', () => {
    const token = fernetEncrypt(key, 'hello', { now: NOW });

    it('accepts a token exactly ttl seconds old and refuses one a second older', () => {
      expect(fernetDecrypt(key, token, { now: NOW + 300, ttlSeconds: 300 }).toString()).toBe('hello');
      expect(() => fernetDecrypt(key, token, { now: NOW + 301, ttlSeconds: 300 })).toThrow(InvalidFernetToken);
    });

    it('accepts an old token when no ttl is given', () => {
      expect(fernetDecrypt(key, token, { now: NOW + 86_400 }).toString()).toBe('hello');
    });

    it('accepts up to 60 seconds of clock skew and refuses a token from further in the future', () => {
      expect(fernetDecrypt(key, token, { now: NOW - 60 }).toString()).toBe('hello');
      expect(() => fernetDecrypt(key, token, { now: NOW - 61 })).toThrow(InvalidFernetToken);
      expect(() => fernetDecrypt(key, token, { now: NOW - 61, ttlSeconds: 300 })).toThrow(InvalidFernetToken);
    });

    it('takes another allowed skew', () => {
      expect(() => fernetDecrypt(key, token, { now: NOW - 10, maxClockSkewSeconds: 5 })).toThrow(InvalidFernetToken);
      expect(fernetDecrypt(key, token, { now: NOW - 5, maxClockSkewSeconds: 5 }).toString()).toBe('hello');
    });
  });
});

describe('the original backend wire form', () => {
  const hello = python.valid[0];
  // base64.urlsafe_b64encode(token.encode()) computed by Python for the first vector.
  const pythonWire =
    'Z0FBQUFBQmxVX0VBekpCTzQxZzllcGk1MjZGdHlKUktIRHU0ODdEVUVYc1dWOXBkMnhqUWxDdG5mNzhLUWJPR29CRGRwbHVFeTZWYXlxeHU1VWJqQmkwcVpSMDMxR2NnWHc9PQ==';

  it('encodes the token once more exactly as the original does', () => {
    expect(encodeWireMessage(hello.token)).toBe(pythonWire);
  });

  it('reads the double-encoded form with its padding', () => {
    expect(decodeWireMessage(pythonWire)).toBe(hello.token);
  });

  it('reads the double-encoded form without its padding', () => {
    expect(decodeWireMessage(pythonWire.replace(/=+$/, ''))).toBe(hello.token);
  });

  it('reads a bare token as it is', () => {
    expect(decodeWireMessage(hello.token)).toBe(hello.token);
  });

  it('round-trips every token through the wire form', () => {
    for (const vector of python.valid) {
      const wire = encodeWireMessage(vector.token);
      expect(wire.startsWith('Z0FBQUFB')).toBe(true);
      expect(decodeWireMessage(wire)).toBe(vector.token);
    }
  });

  it.each([
    ['empty', ''],
    ['not base64', 'not a token!'],
    ['base64 of something else', Buffer.from([0x80, 0, 1, 2, 0xff]).toString('base64url')],
    ['base64 of text that is no token', Buffer.from('hello world').toString('base64url')],
    ['a bare token with junk', 'gAAAAA!!!'],
    ['broken padding', `${pythonWire}=`],
  ])('refuses a message that is %s', (_why, message) => {
    expect(() => decodeWireMessage(message)).toThrow(InvalidFernetToken);
  });
});
