// The wire protocol of /ws as the server reads it: the close codes, the limits a client must
// keep to, and what each client frame asks for (or why the socket closes). Pure: no sockets.
import type { RawData } from 'ws';

/** Close codes sent by the gateway (4xxx are ours, modelled on the HTTP statuses). */
export const CloseCode = {
  shuttingDown: 1001,
  badFrame: 1008,
  frameTooLarge: 1009,
  /** Events may have been missed (the bus between instances came back): reconnect and catch up. */
  catchUp: 1012,
  /** The client read too slowly and the server stopped buffering for it; or a dependency is down. */
  tryAgainLater: 1013,
  unauthenticated: 4401,
  authTimeout: 4408,
  /** The `after` of the auth frame is older than the feed keeps: reload, then reconnect after the seq sent. */
  gone: 4410,
  tooManyConnections: 4429,
  /** The socket sent more frames than its budget allows. */
  tooManyFrames: 4429,
} as const;

export interface GatewayLimits {
  /** How long an unauthenticated socket may wait before its auth frame. */
  authTimeoutMs: number;
  /** How often the server pings; a socket that did not answer the previous ping is dropped. */
  heartbeatIntervalMs: number;
  /** Largest frame a client may send. */
  maxFrameBytes: number;
  /** Bytes the server buffers for one socket before disconnecting it as a slow consumer. */
  maxBufferedBytes: number;
  /** Open sockets per user on one instance. */
  maxConnectionsPerUser: number;
  /** How long shutdown waits for clients to answer the 1001 close before cutting them. */
  shutdownGraceMs: number;
  /** Frames a socket may send per second, steadily (pings and the auth frame count too)... */
  framesPerSecond: number;
  /** ...and at once, after a quiet spell. */
  frameBurst: number;
}

export const DEFAULT_GATEWAY_LIMITS: GatewayLimits = {
  authTimeoutMs: 10_000,
  heartbeatIntervalMs: 30_000,
  maxFrameBytes: 4096,
  maxBufferedBytes: 1024 * 1024,
  maxConnectionsPerUser: 32,
  shutdownGraceMs: 2000,
  // A client types, pings and reconnects far below this; a flood is closed within a second.
  framesPerSecond: 20,
  frameBurst: 100,
};

// The longest typing target a client may name (an address: a username, `@`, a server name).
const MAX_TYPING_TARGET = 420;
// A group's id is a uuid; anything longer names no group.
const MAX_GROUP_ID = 64;

/** What a client frame asks of the gateway, given whether its socket is authenticated yet. */
export type FrameRequest =
  | { kind: 'authenticate'; token: string; after: number | undefined }
  | { kind: 'ping' }
  | { kind: 'typing'; to: string }
  /** Typing in a group (`group`, not `to`: a username may look like a group's id). */
  | { kind: 'typing'; group: string }
  /** An auth frame without `after` on an authenticated socket (by header, or a repeated frame): nothing to do. */
  | { kind: 'none' }
  | { kind: 'close'; code: number; reason: string };

export function readFrame(data: RawData, isBinary: boolean, authenticated: boolean): FrameRequest {
  const frame = isBinary ? undefined : parseFrame(data);
  if (!frame) return close(CloseCode.badFrame, 'frames are JSON objects with a "type"');
  if (!authenticated) {
    if (frame.type !== 'auth') return close(CloseCode.unauthenticated, 'authenticate first');
    if (typeof frame.token !== 'string' || frame.token === '') return close(CloseCode.badFrame, 'the auth frame needs a "token"');
    const { after } = frame;
    if (after !== undefined && !(typeof after === 'number' && Number.isSafeInteger(after) && after >= 0)) {
      return close(CloseCode.badFrame, '"after" is the last seq handled: a whole number, 0 or more');
    }
    return { kind: 'authenticate', token: frame.token, after };
  }
  switch (frame.type) {
    case 'ping':
      return { kind: 'ping' };
    case 'typing':
      if (frame.group !== undefined) {
        if (typeof frame.group !== 'string' || frame.group === '' || frame.group.length > MAX_GROUP_ID) return close(CloseCode.badFrame, 'the typing frame\'s "group" is a group id');
        return { kind: 'typing', group: frame.group };
      }
      if (typeof frame.to !== 'string' || frame.to === '' || frame.to.length > MAX_TYPING_TARGET) return close(CloseCode.badFrame, 'the typing frame needs a "to"');
      return { kind: 'typing', to: frame.to };
    case 'auth':
      // The socket's stream has started: it cannot go back to replay, and saying nothing would
      // let the client believe it had resumed.
      if (frame.after !== undefined) return close(CloseCode.badFrame, 'already authenticated: "after" counts in the first auth frame only (authenticate with it, not the header, to resume)');
      return { kind: 'none' };
    default:
      return close(CloseCode.badFrame, `unknown frame type "${frame.type.slice(0, 32)}"`);
  }
}

function close(code: number, reason: string): FrameRequest {
  return { kind: 'close', code, reason };
}

function parseFrame(data: RawData): { type: string; [field: string]: unknown } | undefined {
  try {
    const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data).toString('utf8');
    const frame: unknown = JSON.parse(text);
    if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) return undefined;
    return typeof (frame as { type?: unknown }).type === 'string' ? (frame as { type: string }) : undefined;
  } catch {
    return undefined;
  }
}
