// Inbound federation, the receiver's steps of federation.md in order: find the peer (1), check
// the signature and its time window over the raw body (2), decrypt the token (3), drop replays
// (4), store for the local receiver (5). Steps 1-2 run as a hook before the body is even parsed.
import { createHash, randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { verifyRequestSignature } from '../crypto/signing.js';
import { BadRequest, Forbidden, Unauthorized, ValidationFailed } from '../http/errors.js';
import { openFernetText, openSealed, SEALED_TYPE } from '../http/sealed-body.js';
import { isValidRemoteName } from '../conversations/addresses.js';
import type { MessageEdits } from '../messages/edits.js';
import type { MessagesService } from '../messages/service.js';
import { bodyText } from '../http/body-text.js';
import type { Peer, PeerDirectory } from './peers.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The peer an inbound federation request comes from, once verified. */
    peer: Peer | null;
  }
}

export interface ReceiveBody {
  message?: string;
  /** `message` under the name the original's sealed bodies give it. */
  content?: string;
  sender: string;
  receiver: string;
  id?: string;
  timestamp?: string;
  /** An edit or a delete of the message delivered under `ref`; a new message without it. */
  op?: 'edit' | 'delete';
  ref?: string;
}

export interface InboundOptions {
  peers: PeerDirectory;
  /** This backend's SERVER_NAME: the destination a peer's `v2` signature must name. */
  serverName: string;
  maxAgeMs: number;
  clock: () => number;
  /** A request from the peer passed its checks: the peer is up. */
  heardFrom?(peer: Peer): void;
}

/**
 * Steps 1 and 2, then the body in whichever form the peer sent it (JSON, form, sealed). `unsigned`
 * says whether a compat peer may send without an origin and a signature (v1), or not (transactions,
 * which the original backend never sends).
 */
export function verifyPeerRequest(options: InboundOptions, unsigned: 'compat' | 'never' = 'compat') {
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const origin = request.headers['x-realchat-origin'];
    // Without an origin, the request is the compat peer's (the original sends none): unsigned, it must be v1.
    const peer = typeof origin === 'string' ? options.peers.find(origin) : options.peers.compatPeer;
    if (!peer) throw new Forbidden('unknown_peer', 'This backend does not know the sending peer.');

    const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    const signature = request.headers['x-realchat-signature'];
    // A compat peer (the original backend) cannot sign: its Fernet token alone authenticates the
    // text, and its source address, when it is listed, the request.
    if (peer.compat && signature === undefined && unsigned === 'compat') {
      if (peer.allowFrom && !peer.allowFrom.includes(request.ip)) throw new Forbidden('unknown_peer', 'This backend does not know the sending peer.');
    } else {
      const valid = verifyRequestSignature({
        signingKeys: peer.signingKeys,
        header: typeof signature === 'string' ? signature : undefined,
        method: request.method,
        path: request.url.split('?')[0]!,
        body: raw,
        origin: typeof origin === 'string' ? origin : peer.name,
        destination: options.serverName,
        now: Math.floor(options.clock() / 1000),
        maxAgeSeconds: Math.floor(options.maxAgeMs / 1000),
      });
      if (!valid) throw new Unauthorized('invalid_signature', 'The request signature is missing, wrong or outside the time window.');
    }
    request.peer = peer;
    options.heardFrom?.(peer);
    request.body = parseBody(raw, request.headers['content-type'], { keys: peer.fernetKeys, maxAgeMs: options.maxAgeMs, clock: options.clock });
  };
}

function parseBody(raw: Buffer, contentType: string | undefined, sealed: Parameters<typeof openSealed>[1]): unknown {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  const text = bodyText(raw);
  if (type === 'application/x-www-form-urlencoded') return Object.fromEntries(new URLSearchParams(text));
  if (type !== SEALED_TYPE && /^\s*[{[]/.test(text)) {
    try {
      return JSON.parse(text);
    } catch {
      throw new BadRequest('malformed_json', 'The body is not valid JSON.');
    }
  }
  return openSealed(text, sealed);
}

/** Steps 3 to 5. */
export class InboundFederation {
  constructor(
    private readonly messages: MessagesService,
    private readonly changes: MessageEdits,
    private readonly options: { maxAgeMs: number; clock: () => number },
  ) {}

  /** Stores the message once and answers its text, as the original backend did; or applies a change. */
  async receive(peer: Peer, body: ReceiveBody): Promise<string> {
    if (!isValidRemoteName(body.sender)) throw new ValidationFailed({ sender: ['Enter a valid user name: 1 to 150 letters, digits and _ . + - characters, without @.'] });
    const message = body.message ?? body.content;
    if (body.op) return this.receiveChange(peer, body, body.op, message);
    if (message === undefined) throw new ValidationFailed({ message: ['This field is required.'] });
    const { token, text } = this.open(peer, message);
    // An unsigned compat request may come with any id a replayer likes: only its token is its own.
    const requestKey = body.id !== undefined && !peer.compat ? body.id : tokenRequestKey(token);
    return this.messages.receive({
      peer,
      senderName: body.sender,
      receiverName: body.receiver,
      text,
      uuid: body.id ?? randomUUID(),
      requestKey,
    });
  }

  private async receiveChange(peer: Peer, body: ReceiveBody, op: 'edit' | 'delete', message: string | undefined): Promise<string> {
    // Unsigned, a compat peer's delete would be authenticated by nothing at all; and the original has no such operation.
    if (peer.compat) throw new Forbidden('forbidden', 'Edits and deletes are not accepted from this peer.');
    const missing: Record<string, string[]> = {};
    if (!body.id) missing.id = ['This field is required.'];
    if (!body.ref) missing.ref = ['This field is required.'];
    if (op === 'edit' && message === undefined) missing.message = ['This field is required.'];
    if (Object.keys(missing).length > 0) throw new ValidationFailed(missing);
    return this.changes.receive({
      peer,
      op,
      senderName: body.sender,
      receiverName: body.receiver,
      ref: body.ref!,
      ...(op === 'edit' ? { text: this.open(peer, message!).text } : {}),
      requestKey: body.id!,
    });
  }

  /** Step 3: the Fernet token of the text, under the peer's keys and within FEDERATION_MAX_AGE. */
  private open(peer: Peer, message: string): { token: string; text: string } {
    const options = { keys: peer.fernetKeys, ...this.options };
    return openFernetText(message, options, 'The message token could not be decrypted (tampered, wrong key or expired).');
  }
}

/**
 * A token as a replay key: the digest of the bytes it decodes to, which its HMAC covers. One
 * token has many spellings (with or without its inner padding, other values in the unused low
 * bits of its last character) that all decode, and so open, alike.
 */
function tokenRequestKey(token: string): string {
  return `token:${createHash('sha256').update(Buffer.from(token, 'base64url')).digest('hex')}`;
}
