// Outbound federation: one message to a peer's /accounts/receive-message/, signed, in the
// original's wire form for compat peers, or a transaction of items to /federation/transactions/;
// and the peer's answer sorted into what the outbox does next.
import { encodeWireMessage, fernetEncrypt } from '../crypto/fernet.js';
import { signRequest } from '../crypto/signing.js';
import type { HttpAnswer, HttpFunction } from './http.js';
import type { Peer } from './peers.js';
import { parseTransactionAnswer, sealTransaction, TRANSACTIONS_PATH, type ItemResult, type Transaction } from './transactions/protocol.js';

export interface FederatedMessage {
  id: string;
  sender: string;
  receiver: string;
  text: string;
  /** Epoch ms when the sender's backend accepted it (the change, for an edit or a delete). */
  createdAt: number;
  /** An edit or a delete of the message delivered under `ref` (federation.md, "Edits and deletes"). */
  op?: 'edit' | 'delete';
  ref?: string;
}

export type DeliveryOutcome =
  | { kind: 'delivered' }
  /** Worth trying again later: unreachable, timed out, 5xx, 429. */
  | { kind: 'retry'; reason: string }
  /** Refused for good (a 4xx other than 429), with the peer's code. */
  | { kind: 'failed'; code: string };

export type TransactionOutcome =
  /** One result per item, in order. */
  | { kind: 'results'; results: ItemResult[] }
  /** 404 on the transactions path: an older RealChat, to be sent v1 requests. */
  | { kind: 'unsupported' }
  /** The whole transaction goes again later: unreachable, timed out, 5xx, 429, or an answer that is not one result per item. */
  | { kind: 'retry'; reason: string }
  /** Refused whole (401, 403, 400, 413...), with the peer's code. */
  | { kind: 'refused'; status: number; code: string };

export interface FederationClientOptions {
  serverName: string;
  timeoutMs: number;
  http: HttpFunction;
  clock?: () => number;
}

export const RECEIVE_PATH = '/accounts/receive-message/';

// What the original backend answers, as codes of ours.
const COMPAT_ERRORS: Record<string, string> = {
  'Receiver does not exist': 'unknown_receiver',
  'Sender does not exist': 'unknown_sender',
};

export class FederationClient {
  private readonly clock: () => number;
  private readonly urls = new Map<string, URL>();

  constructor(private readonly options: FederationClientOptions) {
    this.clock = options.clock ?? Date.now;
  }

  async deliver(peer: Peer, message: FederatedMessage): Promise<DeliveryOutcome> {
    const url = this.urlOf(peer, RECEIVE_PATH);
    const now = Math.floor(this.clock() / 1000);
    // A fresh token each attempt: a retry hours later must still be inside the peer's time window.
    const wire = message.op === 'delete' ? undefined : encodeWireMessage(fernetEncrypt(peer.fernetKeys[0]!, message.text, { now }));
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
    let body: string;
    if (peer.compat) {
      body = JSON.stringify({ message: wire, sender: message.sender, receiver: message.receiver });
      if (peer.token) headers.authorization = `Token ${peer.token}`;
    } else {
      body = JSON.stringify({
        ...(message.op ? { op: message.op, ref: message.ref } : {}),
        ...(wire !== undefined ? { message: wire } : {}),
        sender: message.sender,
        receiver: message.receiver,
        id: message.id,
        timestamp: new Date(message.createdAt).toISOString(),
      });
      Object.assign(headers, this.signedHeaders(peer, url, body, now, message.id));
    }

    const answer = await this.post(url, headers, body);
    if (answer.status === undefined) return { kind: 'retry', reason: answer.reason };
    const { status } = answer;
    if (status >= 200 && status < 300) return { kind: 'delivered' };
    if (isFinal(status)) return { kind: 'failed', code: errorCode(answer.body, status) };
    return { kind: 'retry', reason: `HTTP ${status}` };
  }

  /** One transaction to a RealChat peer, signed like a v1 request; sealed afresh at each call. */
  async sendTransaction(peer: Peer, transaction: Transaction): Promise<TransactionOutcome> {
    const url = this.urlOf(peer, TRANSACTIONS_PATH);
    const body = JSON.stringify(sealTransaction(transaction, peer.fernetKeys[0]!, this.clock));
    const headers = {
      'content-type': 'application/json',
      accept: 'application/json',
      ...this.signedHeaders(peer, url, body, Math.floor(this.clock() / 1000), transaction.id),
    };
    const answer = await this.post(url, headers, body);
    if (answer.status === undefined) return { kind: 'retry', reason: answer.reason };
    const { status } = answer;
    if (status === 404) return { kind: 'unsupported' };
    if (isFinal(status)) return { kind: 'refused', status, code: errorCode(answer.body, status) };
    if (status < 200 || status >= 300) return { kind: 'retry', reason: `HTTP ${status}` };
    const results = parseTransactionAnswer(answer.body, transaction.items);
    return results ? { kind: 'results', results } : { kind: 'retry', reason: 'malformed answer' };
  }

  private signedHeaders(peer: Peer, url: URL, body: string, now: number, idempotencyKey: string): Record<string, string> {
    const origin = this.options.serverName;
    return {
      'x-realchat-origin': origin,
      'x-realchat-signature': signRequest({ signingKey: peer.signingKeys[0]!, method: 'POST', path: url.pathname, body, timestamp: now, origin, destination: peer.name }),
      'idempotency-key': idempotencyKey,
    };
  }

  /** The peer's answer, or why there was none (a network failure, a timeout). */
  private async post(url: URL, headers: Record<string, string>, body: string): Promise<HttpAnswer | { status: undefined; reason: string }> {
    try {
      return await this.options.http(url, { headers, body, timeoutMs: this.options.timeoutMs });
    } catch (error) {
      return { status: undefined, reason: describeFailure(error) };
    }
  }

  private urlOf(peer: Peer, path: string): URL {
    const key = peer.url + path;
    let url = this.urls.get(key);
    if (!url) {
      url = new URL(key);
      this.urls.set(key, url);
    }
    return url;
  }
}

/** A 4xx other than 429 is the peer's final word; 3xx (not followed: a peer's URL is configured, not discovered), 429 and 5xx are worth another try. */
function isFinal(status: number): boolean {
  return status >= 400 && status < 500 && status !== 429;
}

function errorCode(answer: string, status: number): string {
  try {
    const body = JSON.parse(answer) as { code?: unknown; error?: unknown };
    if (typeof body.code === 'string' && /^[a-z0-9_]{1,64}$/.test(body.code)) return body.code;
    if (typeof body.error === 'string') return COMPAT_ERRORS[body.error] ?? `http_${status}`;
  } catch {
    // Not JSON: the status is all we know.
  }
  return `http_${status}`;
}

function describeFailure(error: unknown): string {
  const { code, name } = error as { code?: unknown; name?: unknown };
  return String(typeof code === 'string' ? code : (name ?? 'network error')).slice(0, 100);
}
