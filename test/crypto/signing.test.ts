// X-RealChat-Signature: known vectors (v1 and v2), the time window, and every malformed header refused.
import { describe, it, expect } from 'vitest';
import { signRequest, verifyRequestSignature, type VerifyRequestSignatureInput } from '../../src/crypto/signing.js';
import { decodeKey, deriveKey, generateKey, SIGNING_INFO } from '../../src/crypto/keys.js';

const PEER_KEY = decodeKey('7A-OK4kxlu4oaDAHJOl15QYQjK42wiKg71b__BjxMpU=');
const SIGNING_KEY = deriveKey(PEER_KEY, SIGNING_INFO);
const NOW = 1_700_000_000;
const PATH = '/accounts/receive-message/';
const BODY = '{"message":"x","sender":"alice","receiver":"bob"}';
const ORIGIN = 'a.example';
const DESTINATION = 'b.example';
// Computed with Python's hmac and hashlib over the same request, sent from a.example to b.example.
const PYTHON_V1 = '1394bbac60f4286fb45946281a0d427998a3f1ca24f358c52fac5100769a0799';
const PYTHON_V2 = 'd7f09720d91340f2a95238819a9046dfbe50f8223f1a8ca6aaefac578705717a';
const PYTHON_SIGNATURE = `t=1700000000,v1=${PYTHON_V1},v2=${PYTHON_V2}`;
const NAMES = { origin: ORIGIN, destination: DESTINATION };

function request(overrides: Partial<VerifyRequestSignatureInput> = {}): VerifyRequestSignatureInput {
  return {
    signingKeys: [SIGNING_KEY],
    header: signRequest({ signingKey: SIGNING_KEY, method: 'POST', path: PATH, body: BODY, timestamp: NOW, ...NAMES }),
    method: 'POST',
    path: PATH,
    body: BODY,
    ...NAMES,
    now: NOW,
    maxAgeSeconds: 300,
    ...overrides,
  };
}

describe('signRequest', () => {
  it('signs v1 over t, the method, the path and the body hash, and v2 over the origin and destination as well, as another implementation would', () => {
    expect(signRequest({ signingKey: SIGNING_KEY, method: 'post', path: PATH, body: BODY, timestamp: NOW, ...NAMES })).toBe(
      PYTHON_SIGNATURE,
    );
  });

  it('signs a body the same whether given as text or bytes', () => {
    const asBytes = signRequest({ signingKey: SIGNING_KEY, method: 'POST', path: PATH, body: Buffer.from(BODY), timestamp: NOW, ...NAMES });
    expect(asBytes).toBe(PYTHON_SIGNATURE);
  });

  it('refuses a timestamp that is not whole seconds', () => {
    expect(() => signRequest({ signingKey: SIGNING_KEY, method: 'POST', path: PATH, body: BODY, timestamp: 1.5, ...NAMES })).toThrow(
      RangeError,
    );
  });
});

describe('verifyRequestSignature', () => {
  it('accepts a fresh signature by the peer', () => {
    expect(verifyRequestSignature(request())).toBe(true);
    expect(verifyRequestSignature(request({ header: PYTHON_SIGNATURE, method: 'post' }))).toBe(true);
  });

  it('accepts a signature by a previous key of the peer', () => {
    const current = deriveKey(decodeKey(generateKey()), SIGNING_INFO);
    expect(verifyRequestSignature(request({ signingKeys: [current, SIGNING_KEY] }))).toBe(true);
  });

  it('refuses a signature by another key', () => {
    const other = deriveKey(decodeKey(generateKey()), SIGNING_INFO);
    expect(verifyRequestSignature(request({ signingKeys: [other] }))).toBe(false);
    expect(verifyRequestSignature(request({ signingKeys: [PEER_KEY] }))).toBe(false);
    expect(verifyRequestSignature(request({ signingKeys: [] }))).toBe(false);
  });

  it.each([
    ['body', { body: BODY.replace('bob', 'eve') }],
    ['path', { path: '/accounts/messages/' }],
    ['method', { method: 'PUT' }],
    ['origin', { origin: 'c.example' }],
    ['destination', { destination: 'c.example' }],
  ])('refuses a request whose %s was changed', (_what, change) => {
    expect(verifyRequestSignature(request(change))).toBe(false);
  });

  it('signs the server names ignoring case, as peers are found by name', () => {
    const header = signRequest({ signingKey: SIGNING_KEY, method: 'POST', path: PATH, body: BODY, timestamp: NOW, origin: 'A.example', destination: 'b.example' });
    expect(verifyRequestSignature(request({ header, origin: 'a.example', destination: 'B.EXAMPLE' }))).toBe(true);
  });

  it('refuses a request signed from b to a replayed to b as if a had sent it', () => {
    expect(verifyRequestSignature(request({ origin: DESTINATION, destination: ORIGIN }))).toBe(false);
  });

  it('refuses a signature with v1 only, and accepts one with v2 only', () => {
    expect(verifyRequestSignature(request({ header: `t=1700000000,v1=${PYTHON_V1}` }))).toBe(false);
    expect(verifyRequestSignature(request({ header: `t=1700000000,v2=${PYTHON_V2}` }))).toBe(true);
  });

  it('accepts a signature up to maxAge old and refuses a stale one', () => {
    expect(verifyRequestSignature(request({ now: NOW + 300 }))).toBe(true);
    expect(verifyRequestSignature(request({ now: NOW + 301 }))).toBe(false);
  });

  it('accepts up to 60 seconds of clock skew and refuses a signature from further in the future', () => {
    expect(verifyRequestSignature(request({ now: NOW - 60 }))).toBe(true);
    expect(verifyRequestSignature(request({ now: NOW - 61 }))).toBe(false);
    expect(verifyRequestSignature(request({ now: NOW - 10, maxSkewSeconds: 5 }))).toBe(false);
  });

  const hex = PYTHON_V2;
  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['a non-numeric time', `t=abc,v2=${hex}`],
    ['a time with leading zeros', `t=01700000000,v2=${hex}`],
    ['a negative time', `t=-1700000000,v2=${hex}`],
    ['a fractional time', `t=1700000000.0,v2=${hex}`],
    ['no time', `v2=${hex}`],
    ['no signature', 't=1700000000'],
    ['an empty signature', 't=1700000000,v2='],
    ['a short signature', `t=1700000000,v2=${hex.slice(2)}`],
    ['a long signature', `t=1700000000,v2=${hex}00`],
    ['upper-case hex', `t=1700000000,v2=${hex.toUpperCase()}`],
    ['non-hex characters', `t=1700000000,v2=${'z'.repeat(64)}`],
    ['another scheme', `t=1700000000,v0=${hex}`],
    ['its parts swapped', `v2=${hex},t=1700000000`],
    ['v1 and v2 swapped', `t=1700000000,v2=${hex},v1=${PYTHON_V1}`],
    ['spaces', `t=1700000000, v2=${hex}`],
    ['an extra part', `${PYTHON_SIGNATURE},v3=${hex}`],
    ['a repeated signature', `${PYTHON_SIGNATURE},v2=${hex}`],
  ])('refuses a header that is %s, without throwing', (_why, header) => {
    expect(verifyRequestSignature(request({ header }))).toBe(false);
  });
});
