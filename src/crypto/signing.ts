// Federation request signatures: the X-RealChat-Signature header, `t=<unix seconds>,v1=<hex HMAC-SHA256>`.
// Signing keys are not peer keys: callers pass deriveKey(peerKey, SIGNING_INFO), so the key that
// makes Fernet tokens never also signs requests.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

const DEFAULT_MAX_SKEW_SECONDS = 60;
// Exactly what signRequest writes: no spaces, no leading zeros, lower-case hex of 32 bytes.
const HEADER_SHAPE = /^t=(0|[1-9][0-9]{0,14}),v1=([0-9a-f]{64})$/;

export interface SignRequestInput {
  signingKey: Buffer;
  method: string;
  path: string;
  body: Buffer | string;
  /** Unix seconds. */
  timestamp: number;
}

export interface VerifyRequestSignatureInput {
  signingKeys: Buffer[];
  header: string | undefined;
  method: string;
  path: string;
  body: Buffer | string;
  /** Unix seconds. */
  now: number;
  maxAgeSeconds: number;
  maxSkewSeconds?: number;
}

function signatureOf(signingKey: Buffer, timestamp: string, method: string, path: string, body: Buffer | string): Buffer {
  const bodyHash = createHash('sha256').update(body).digest('hex');
  const signed = `${timestamp}\n${method.toUpperCase()}\n${path}\n${bodyHash}`;
  return createHmac('sha256', signingKey).update(signed).digest();
}

export function signRequest(input: SignRequestInput): string {
  if (!Number.isSafeInteger(input.timestamp) || input.timestamp < 0) {
    throw new RangeError('a signature timestamp must be whole unix seconds');
  }
  const t = String(input.timestamp);
  const mac = signatureOf(input.signingKey, t, input.method, input.path, input.body);
  return `t=${t},v1=${mac.toString('hex')}`;
}

/** False, never an exception, for anything but a fresh signature by one of the keys. */
export function verifyRequestSignature(input: VerifyRequestSignatureInput): boolean {
  if (typeof input.header !== 'string') return false;
  const match = HEADER_SHAPE.exec(input.header);
  if (match === null) return false;
  const t = match[1];
  const hex = match[2];

  const timestamp = Number(t);
  const skew = input.maxSkewSeconds ?? DEFAULT_MAX_SKEW_SECONDS;
  if (input.now - timestamp > input.maxAgeSeconds) return false;
  if (timestamp - input.now > skew) return false;

  const given = Buffer.from(hex, 'hex');
  return input.signingKeys.some((key) =>
    timingSafeEqual(signatureOf(key, t, input.method, input.path, input.body), given),
  );
}
