// The one address parser: `alice` (a user of this backend, or of the only peer), `alice@b`
// (user alice of peer b, or of this backend when b is our SERVER_NAME), resolved to a typed member.
import { LRUCache } from 'lru-cache';
import type { AccountsService } from '../accounts/service.js';
import { foldKey } from '../unicode/fold.js';
import { remoteMember, type KnownPeer, type LocalMember, type Member } from './members.js';

/** The configured peers, as addresses need them (federation's PeerDirectory). */
export interface PeerLookup {
  find(name: string): KnownPeer | undefined;
  /** The peer a bare name goes to when it is not a local user: only when exactly one is configured. */
  readonly only: KnownPeer | undefined;
}

// Remote names follow the peer's rules (the original backend allows Django's `[\w.@+-]`), but
// for `@`: `x@y` of peer b would read as `x@y@b`, an address that names someone else.
const REMOTE_NAME = /^[\p{L}\p{N}_.+-]{1,150}$/u;
// Users are never renamed or removed, so a resolved name stays right; the cap bounds memory.
const CACHE_LIMIT = 50_000;

export function isValidRemoteName(name: string): boolean {
  return REMOTE_NAME.test(name);
}

/** A user as group items name them, whichever backend they are on: `name@server`. */
export function qualifiedName(name: string, server: string): string {
  return `${name}@${server}`;
}

/** An address's name and, when it has one, its host (after the last `@`). */
export function splitAddress(address: string): { name: string; host?: string } {
  const at = address.lastIndexOf('@');
  return at === -1 ? { name: address } : { name: address.slice(0, at), host: address.slice(at + 1) };
}

export class AddressResolver {
  private readonly cache = new LRUCache<string, { id: number; username: string }>({ max: CACHE_LIMIT });

  constructor(
    private readonly accounts: Pick<AccountsService, 'findUserByUsername' | 'getUser'>,
    private readonly peers: PeerLookup,
    private readonly serverName: string,
  ) {}

  /** The member an address names, or undefined when it names nobody we can reach. */
  async resolve(address: string): Promise<Member | undefined> {
    const { name, host } = splitAddress(address);
    if (host === undefined) {
      const local = await this.findLocal(name);
      if (local) return local;
      const peer = this.peers.only;
      return peer && isValidRemoteName(name) ? remoteMember(peer, name) : undefined;
    }
    if (this.isThisServer(host)) return this.findLocal(name);
    const peer = this.peers.find(host);
    return peer && isValidRemoteName(name) ? remoteMember(peer, name) : undefined;
  }

  /**
   * A group member as a group item names them, `name@server` (design: every server's own name):
   * a user of this backend, or of any other, a peer of ours or not (a copy shows the home's
   * members whoever they are). Undefined for a user of ours that does not exist or a malformed name.
   */
  async resolveQualified(address: string): Promise<Member | undefined> {
    const { name, host } = splitAddress(address);
    if (host === undefined || host === '') return undefined;
    if (this.isThisServer(host)) return this.findLocal(name);
    return isValidRemoteName(name) ? remoteMember(this.peers.find(host) ?? { name: host.toLowerCase(), compat: false }, name) : undefined;
  }

  /**
   * The folded username (as stored in `username_key`) an address gives when it names a user of
   * this backend (`bob`, `bob@<this server>`), without asking whether that user exists; undefined
   * for another backend's address.
   */
  localNameKey(address: string): string | undefined {
    const { name, host } = splitAddress(address);
    return host === undefined || this.isThisServer(host) ? foldKey(name) : undefined;
  }

  private isThisServer(host: string): boolean {
    return host.toLowerCase() === this.serverName.toLowerCase();
  }

  async findLocal(username: string): Promise<LocalMember | undefined> {
    const key = foldKey(username);
    let user = this.cache.get(key);
    if (!user) {
      const record = await this.accounts.findUserByUsername(username);
      if (!record) return undefined;
      user = { id: record.id, username: record.username };
      this.cache.set(key, user);
    }
    return { kind: 'local', userId: user.id, username: user.username };
  }

  async findLocalById(userId: number): Promise<LocalMember | undefined> {
    const record = await this.accounts.getUser(userId);
    return record && { kind: 'local', userId: record.id, username: record.username };
  }
}
