// Outbound federation: one message to a peer's /accounts/receive-message/, signed, in the
// original's wire form for compat peers, and the peer's answer sorted into what the outbox does next.
import { encodeWireMessage, fernetEncrypt } from '../crypto/fernet.js';
import { signRequest } from '../crypto/signing.js';
import type { Peer } from './peers.js';

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

export type HttpFunction = typeof fetch;

export interface FederationClientOptions {
  serverName: string;
  timeoutMs: number;
  http?: HttpFunction;
  clock?: () => number;
}

export const RECEIVE_PATH = '/accounts/receive-message/';

// What the original backend answers, as codes of ours.
const COMPAT_ERRORS: Record<string, string> = {
  'Receiver does not exist': 'unknown_receiver',
  'Sender does not exist': 'unknown_sender',
};

export class FederationClient {
  private readonly serverName: string;
  private readonly timeoutMs: number;
  private readonly http: HttpFunction;
  private readonly clock: () => number;

  constructor(options: FederationClientOptions) {
    this.serverName = options.serverName;
    this.timeoutMs = options.timeoutMs;
    this.http = options.http ?? fetch;
    this.clock = options.clock ?? Date.now;
  }

  async deliver(peer: Peer, message: FederatedMessage): Promise<DeliveryOutcome> {
    const url = new URL(peer.url + RECEIVE_PATH);
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
      headers['x-realchat-origin'] = this.serverName;
      headers['x-realchat-signature'] = signRequest({ signingKey: peer.signingKeys[0]!, method: 'POST', path: url.pathname, body, timestamp: now });
      headers['idempotency-key'] = message.id;
    }

    let response: Response;
    let answer: string;
    try {
      response = await this.http(url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(this.timeoutMs) });
      answer = await response.text();
    } catch (error) {
      return { kind: 'retry', reason: describeFailure(error) };
    }
    if (response.status >= 200 && response.status < 300) return { kind: 'delivered' };
    if (response.status >= 400 && response.status < 500 && response.status !== 429) {
      return { kind: 'failed', code: errorCode(answer, response.status) };
    }
    return { kind: 'retry', reason: `HTTP ${response.status}` };
  }
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
  const { name, cause } = error as { name?: string; cause?: { code?: string } };
  if (name === 'TimeoutError') return 'timed out';
  return (cause?.code ?? name ?? 'network error').slice(0, 100);
}
