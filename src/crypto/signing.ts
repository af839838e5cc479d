// Federation request signatures: the X-RealChat-Signature header, `t=<unix seconds>,v1=<hex>,v2=<hex>`.
// Signing keys are not peer keys: callers pass deriveKey(peerKey, SIGNING_INFO), so the key that
// makes Fernet tokens never also signs requests. One key serves both directions of a pair, so only
// `v2`, which binds the origin and the destination, is checked; `v1` is sent for older receivers.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

const DEFAULT_MAX_SKEW_SECONDS = 60;
// What signRequest writes (no spaces, no leading zeros, lower-case hex of 32 bytes); `v1` may be
// left out by a sender that no longer needs it, but `v2` never.
const HEADER_SHAPE = /^t=(0|[1-9][0-9]{0,14})(?:,v1=[0-9a-f]{64})?,v2=([0-9a-f]{64})$/;

export interface SignRequestInput {
  signingKey: Buffer;
  method: string;
  path: string;
  body: Buffer | string;
  /** Unix seconds. */
  timestamp: number;
  /** The sender's SERVER_NAME. */
  origin: string;
  /** The receiver's name as the sender configured it (the receiver's SERVER_NAME). */
  destination: string;
}

export interface VerifyRequestSignatureInput {
  signingKeys: Buffer[];
  header: string | undefined;
  method: string;
  path: string;
  body: Buffer | string;
  /** The X-RealChat-Origin the request came with. */
  origin: string;
  /** This backend's SERVER_NAME. */
  destination: string;
  /** Unix seconds. */
  now: number;
  maxAgeSeconds: number;
  maxSkewSeconds?: number;
}

function hmacOf(signingKey: Buffer, lines: string[]): Buffer {
  return createHmac('sha256', signingKey).update(lines.join('\n')).digest();
}

function bodyHashOf(body: Buffer | string): string {
  return createHash('sha256').update(body).digest('hex');
}

/**
 * Server names are signed lower-cased: backends find peers by name ignoring case, so a sender
 * that configured its peer as `b` and a receiver named `B` still agree on the destination.
 */
function v2Of(signingKey: Buffer, t: string, input: Pick<SignRequestInput, 'method' | 'path' | 'origin' | 'destination'>, bodyHash: string): Buffer {
  return hmacOf(signingKey, [t, input.method.toUpperCase(), input.path, input.origin.toLowerCase(), input.destination.toLowerCase(), bodyHash]);
}

export function signRequest(input: SignRequestInput): string {
  if (!Number.isSafeInteger(input.timestamp) || input.timestamp < 0) {
    throw new RangeError('a signature timestamp must be whole unix seconds');
  }
  const t = String(input.timestamp);
  const bodyHash = bodyHashOf(input.body);
  const v1 = hmacOf(input.signingKey, [t, input.method.toUpperCase(), input.path, bodyHash]);
  const v2 = v2Of(input.signingKey, t, input, bodyHash);
  return `t=${t},v1=${v1.toString('hex')},v2=${v2.toString('hex')}`;
}

/** False, never an exception, for anything but a fresh `v2` by one of the keys, from this origin to this destination. */
export function verifyRequestSignature(input: VerifyRequestSignatureInput): boolean {
  if (typeof input.header !== 'string') return false;
  const match = HEADER_SHAPE.exec(input.header);
  if (match === null) return false;
  const t = match[1]!;
  const given = Buffer.from(match[2]!, 'hex');

  const timestamp = Number(t);
  const skew = input.maxSkewSeconds ?? DEFAULT_MAX_SKEW_SECONDS;
  if (input.now - timestamp > input.maxAgeSeconds) return false;
  if (timestamp - input.now > skew) return false;

  const bodyHash = bodyHashOf(input.body);
  return input.signingKeys.some((key) => timingSafeEqual(v2Of(key, t, input, bodyHash), given));
}
