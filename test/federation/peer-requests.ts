// Builds receive-message requests the way a peer does (or deliberately not quite), for tests
// that talk to a backend as its peer.
import { randomUUID } from 'node:crypto';
import { encodeWireMessage, fernetEncrypt } from '../../src/crypto/fernet.js';
import { decodeKey, deriveKey, SIGNING_INFO } from '../../src/crypto/keys.js';
import { signRequest } from '../../src/crypto/signing.js';
import { call, type JsonResponse } from '../helpers/http.js';

export const RECEIVE_PATH = '/accounts/receive-message/';

export interface PeerRequestOptions {
  /** The key shared with the receiving backend. */
  key: string;
  origin?: string | null;
  /** The receiving backend's SERVER_NAME, which the signature names (default b). */
  destination?: string;
  text?: string;
  sender?: string;
  receiver: string;
  id?: string | null;
  /** Unix seconds the Fernet token carries. */
  tokenTime?: number;
  /** Unix seconds the signature carries. */
  signatureTime?: number;
  /** Signs with this key's signing key instead of `key`'s; null sends no signature. */
  signWith?: string | null;
  /** Changes the token after it is made (it is then signed as changed). */
  tamper?: (token: string) => string;
  /** A Fernet token made elsewhere (e.g. by Python), used as is. */
  token?: string;
}

export function peerRequest(options: PeerRequestOptions): { body: string; headers: Record<string, string>; id: string | undefined } {
  const now = Math.floor(Date.now() / 1000);
  let token = options.token ?? fernetEncrypt(options.key, options.text ?? 'hello from a peer', { now: options.tokenTime ?? now });
  if (options.tamper) token = options.tamper(token);
  const id = options.id === null ? undefined : (options.id ?? randomUUID());
  const body = JSON.stringify({
    message: encodeWireMessage(token),
    sender: options.sender ?? 'alice',
    receiver: options.receiver,
    ...(id ? { id, timestamp: new Date().toISOString() } : {}),
  });
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.origin !== null) headers['x-realchat-origin'] = options.origin ?? 'a';
  if (id) headers['idempotency-key'] = id;
  if (options.signWith !== null) {
    const signingKey = deriveKey(decodeKey(options.signWith ?? options.key), SIGNING_INFO);
    headers['x-realchat-signature'] = signRequest({
      signingKey,
      method: 'POST',
      path: RECEIVE_PATH,
      body,
      timestamp: options.signatureTime ?? now,
      origin: options.origin ?? 'a',
      destination: options.destination ?? 'b',
    });
  }
  return { body, headers, id };
}

/** A change (federation.md, "Edits and deletes") as peer `origin` sends it to `destination`, signed with the key they share. */
export function peerChange(
  key: string,
  [origin, destination]: [string, string],
  fields: { op: 'edit' | 'delete'; ref: string; sender?: string; receiver?: string; text?: string; id?: string },
) {
  const body = JSON.stringify({
    op: fields.op,
    id: fields.id ?? randomUUID(),
    ref: fields.ref,
    ...(fields.text !== undefined ? { message: encodeWireMessage(fernetEncrypt(key, fields.text, { now: Math.floor(Date.now() / 1000) })) } : {}),
    sender: fields.sender ?? 'alice',
    receiver: fields.receiver ?? 'bob',
    timestamp: new Date().toISOString(),
  });
  return { body, headers: { 'content-type': 'application/json', ...signedHeaders(key, body, origin, destination) } };
}

/** The origin and signature headers of peer `origin` for this exact body, sent to `destination`. */
export function signedHeaders(key: string, body: string | Buffer, origin = 'a', destination = 'b'): Record<string, string> {
  const signingKey = deriveKey(decodeKey(key), SIGNING_INFO);
  const signature = signRequest({ signingKey, method: 'POST', path: RECEIVE_PATH, body, timestamp: Math.floor(Date.now() / 1000), origin, destination });
  return { 'x-realchat-origin': origin, 'x-realchat-signature': signature };
}

export function postAsPeer(url: string, request: { body: string; headers: Record<string, string> }): Promise<JsonResponse> {
  return call(url, 'POST', RECEIVE_PATH, undefined, { raw: request.body, headers: request.headers });
}

/** Polls until the check passes or the deadline runs out (then the last failure is thrown). */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
