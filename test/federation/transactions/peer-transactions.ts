// Builds transactions the way a peer sends them (or deliberately not quite), for tests that talk
// to a backend's /federation/transactions/ as its peer.
import { randomUUID } from 'node:crypto';
import { encodeWireMessage, fernetEncrypt } from '../../../src/crypto/fernet.js';
import { decodeKey, deriveKey, SIGNING_INFO } from '../../../src/crypto/keys.js';
import { signRequest } from '../../../src/crypto/signing.js';
import { TRANSACTIONS_PATH } from '../../../src/federation/transactions/protocol.js';
import { call } from '../../helpers/http.js';

export interface TransactionRequestOptions {
  /** The key shared with the receiving backend. */
  key: string;
  /** The items as they are sealed: any JSON, well-formed or not. */
  items: unknown;
  id?: string;
  origin?: string | null;
  destination?: string;
  /** Unix seconds the Fernet token carries. */
  tokenTime?: number;
  /** Unix seconds the signature carries. */
  signatureTime?: number;
  /** Signs with this key's signing key instead of `key`'s; null sends no signature. */
  signWith?: string | null;
  /** Changes the body after it is signed. */
  tamper?: (body: string) => string;
}

export function transactionRequest(options: TransactionRequestOptions): { body: string; headers: Record<string, string> } {
  const now = Math.floor(Date.now() / 1000);
  const id = options.id ?? randomUUID();
  const token = fernetEncrypt(options.key, JSON.stringify(options.items), { now: options.tokenTime ?? now });
  const body = JSON.stringify({ id, items: encodeWireMessage(token) });
  const headers: Record<string, string> = { 'content-type': 'application/json', 'idempotency-key': id };
  if (options.origin !== null) headers['x-realchat-origin'] = options.origin ?? 'a';
  if (options.signWith !== null) {
    headers['x-realchat-signature'] = signRequest({
      signingKey: deriveKey(decodeKey(options.signWith ?? options.key), SIGNING_INFO),
      method: 'POST',
      path: TRANSACTIONS_PATH,
      body,
      timestamp: options.signatureTime ?? now,
      origin: options.origin ?? 'a',
      destination: options.destination ?? 'b',
    });
  }
  return { body: options.tamper ? options.tamper(body) : body, headers };
}

export function postTransaction(url: string, request: { body: string; headers: Record<string, string> }) {
  return call(url, 'POST', TRANSACTIONS_PATH, undefined, { raw: request.body, headers: request.headers });
}

/** A message item from alice@a (by default) to bob. */
export function messageItem(text: string, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: 'message', id: randomUUID(), sender: 'alice', receiver: 'bob', text, timestamp: new Date().toISOString(), ...fields };
}
