// Outbound federation: one message to a peer's /accounts/receive-message/, signed, in the
// original's wire form for compat peers, and the peer's answer sorted into what the outbox does next.
import { encodeWireMessage, fernetEncrypt } from '../crypto/fernet.js';
import { signRequest } from '../crypto/signing.js';
import type { HttpFunction } from './http.js';
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
  private readonly receiveUrls = new Map<string, URL>();

  constructor(private readonly options: FederationClientOptions) {
    this.clock = options.clock ?? Date.now;
  }

  async deliver(peer: Peer, message: FederatedMessage): Promise<DeliveryOutcome> {
    const url = this.receiveUrlOf(peer);
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
      headers['x-realchat-origin'] = this.options.serverName;
      headers['x-realchat-signature'] = signRequest({
        signingKey: peer.signingKeys[0]!,
        method: 'POST',
        path: url.pathname,
        body,
        timestamp: now,
        origin: this.options.serverName,
        destination: peer.name,
      });
      headers['idempotency-key'] = message.id;
    }

    let status: number;
    let answer: string;
    try {
      ({ status, body: answer } = await this.options.http(url, { headers, body, timeoutMs: this.options.timeoutMs }));
    } catch (error) {
      return { kind: 'retry', reason: describeFailure(error) };
    }
    if (status >= 200 && status < 300) return { kind: 'delivered' };
    if (status >= 400 && status < 500 && status !== 429) return { kind: 'failed', code: errorCode(answer, status) };
    // 3xx (not followed: a peer's URL is configured, not discovered), 429 and 5xx.
    return { kind: 'retry', reason: `HTTP ${status}` };
  }

  private receiveUrlOf(peer: Peer): URL {
    let url = this.receiveUrls.get(peer.url);
    if (!url) {
      url = new URL(peer.url + RECEIVE_PATH);
      this.receiveUrls.set(peer.url, url);
    }
    return url;
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
  const { code, name } = error as { code?: unknown; name?: unknown };
  return String(typeof code === 'string' ? code : (name ?? 'network error')).slice(0, 100);
}
