// The sockets open on this instance, by user: admits a user's socket under the per-user cap,
// delivers the bus's events to their users' sockets, closes those a revocation names, and tells
// presence when a user's first socket opens and last one closes.
import { isRevoked, type TokenRevocation } from '../../http/token-revocation.js';
import type { Delivery, RealtimeEvent } from '../bus.js';
import type { Connection } from './connection.js';
import { CloseCode } from './protocol.js';

/** Where a typing indicator goes: a partner's address, or a group's id. */
export type TypingTarget = { to: string } | { group: string };

/** Who is connected here, and what they type: presence and typing indicators. */
export interface SessionActivity {
  /** The user's first socket on this instance is open. */
  opened(user: { id: number; username: string }): void;
  /** The user's last socket on this instance has closed. */
  closed(user: { id: number; username: string }): void;
  /** The user is typing to a partner (`to`, as the client sent it) or in a group. */
  typing(user: { id: number; username: string }, target: TypingTarget): void;
}

export class ConnectionRegistry {
  /** Every socket, authenticated or not. */
  private readonly connections = new Set<Connection>();
  private readonly byUser = new Map<number, Set<Connection>>();

  constructor(
    private readonly maxConnectionsPerUser: number,
    private readonly activity: SessionActivity | undefined,
  ) {}

  /** Authenticated open sockets on this instance. */
  get openConnections(): number {
    let count = 0;
    for (const set of this.byUser.values()) count += set.size;
    return count;
  }

  add(connection: Connection): void {
    this.connections.add(connection);
  }

  has(connection: Connection): boolean {
    return this.connections.has(connection);
  }

  /** Counts the socket as its user's, once authenticated; false when the user has too many. */
  admit(connection: Connection, user: { id: number; username: string }, tokenId: number): boolean {
    let set = this.byUser.get(user.id);
    if (set && set.size >= this.maxConnectionsPerUser) return false;
    if (!set) this.byUser.set(user.id, (set = new Set()));
    set.add(connection);
    connection.userId = user.id;
    connection.username = user.username;
    connection.tokenId = tokenId;
    if (set.size === 1) this.activity?.opened({ id: user.id, username: user.username });
    return true;
  }

  /** Delivers an event to the sockets of the users it goes to: encoded once, however many they are. */
  deliver(deliveries: readonly Delivery[], event: RealtimeEvent): void {
    let data: Buffer | undefined;
    const { seq } = event;
    for (const { userId, prev } of deliveries) {
      const set = this.byUser.get(userId);
      if (!set) continue;
      data ??= Buffer.from(JSON.stringify(event));
      for (const connection of set) {
        // Feed events go through the socket's stream, in seq order; typing and presence go as they come.
        if (typeof seq === 'number' && connection.stream) connection.stream.offer(seq, prev, data);
        else connection.send(data);
      }
    }
  }

  revoke(userId: number, revocation: TokenRevocation): void {
    const set = this.byUser.get(userId);
    if (!set) return;
    for (const connection of [...set]) {
      if (isRevoked(revocation, connection.tokenId)) connection.close(CloseCode.unauthenticated, 'token revoked');
    }
  }

  /** Pings every socket, dropping those that did not answer the last ping. */
  heartbeat(): void {
    for (const connection of this.connections) connection.heartbeat();
  }

  forget(connection: Connection): void {
    connection.stopTimers();
    this.connections.delete(connection);
    const set = this.byUser.get(connection.userId);
    if (set?.delete(connection) && set.size === 0) {
      this.byUser.delete(connection.userId);
      this.activity?.closed({ id: connection.userId, username: connection.username });
    }
  }

  closeAll(code: number, reason: string): Connection[] {
    const all = [...this.connections];
    for (const connection of all) connection.close(code, reason);
    return all;
  }
}
