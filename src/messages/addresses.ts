// Message participants and their addresses: `alice` (a user of this backend) or `alice@b`
// (user alice of peer b). Keys identify a participant in stored rows: local names and RealChat
// peers' names folded as our usernames are; a compat peer's exactly as it sends them, since the
// original backend tells `zed`, `Zed` and `ｚed` apart.
import type { AccountsService } from '../accounts/service.js';
import { foldKey } from '../unicode/fold.js';
import type { Peer, PeerDirectory } from '../federation/peers.js';

export type Participant = { kind: 'local'; userId: number; username: string } | { kind: 'remote'; peer: Peer; name: string };

// Remote names follow the peer's rules (the original backend allows Django's `[\w.@+-]`), but
// for `@`: `x@y` of peer b would read as `x@y@b`, an address that names someone else.
const REMOTE_NAME = /^[\p{L}\p{N}_.+-]{1,150}$/u;
// Users are never renamed or removed, so a resolved name stays right; the cap bounds memory.
const CACHE_LIMIT = 50_000;

export function isValidRemoteName(name: string): boolean {
  return REMOTE_NAME.test(name);
}

export function participantKey(participant: Participant): string {
  return participant.kind === 'local' ? `u:${participant.userId}` : remoteKey(participant.name, participant.peer);
}

export function remoteKey(name: string, peer: Pick<Peer, 'name' | 'compat'>): string {
  return `r:${peer.compat ? name : foldKey(name)}@${peer.name}`;
}

export function addressOf(participant: Participant): string {
  return participant.kind === 'local' ? participant.username : `${participant.name}@${participant.peer.name}`;
}

/** One key per conversation, the same whichever side sent. */
export function pairKey(a: Participant, b: Participant): string {
  const [first, second] = [participantKey(a), participantKey(b)].sort();
  return `${first}|${second}`;
}

/** An address's name and, when it has one, its host (after the last `@`). */
function splitAddress(address: string): { name: string; host?: string } {
  const at = address.lastIndexOf('@');
  return at === -1 ? { name: address } : { name: address.slice(0, at), host: address.slice(at + 1) };
}

export class AddressResolver {
  private readonly cache = new Map<string, { id: number; username: string }>();

  constructor(
    private readonly accounts: AccountsService,
    private readonly peers: PeerDirectory,
    private readonly serverName: string,
  ) {}

  /** The participant an address names, or undefined when it names nobody we can reach. */
  async resolve(address: string): Promise<Participant | undefined> {
    const { name, host } = splitAddress(address);
    if (host === undefined) {
      const local = await this.findLocal(name);
      if (local) return local;
      const peer = this.peers.only;
      return peer && isValidRemoteName(name) ? { kind: 'remote', peer, name } : undefined;
    }
    if (this.isThisServer(host)) return this.findLocal(name);
    const peer = this.peers.find(host);
    return peer && isValidRemoteName(name) ? { kind: 'remote', peer, name } : undefined;
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

  /** The configured peer of this name, if there is one still. */
  findPeer(name: string): Peer | undefined {
    return this.peers.find(name);
  }

  async findLocal(username: string): Promise<Participant | undefined> {
    const key = foldKey(username);
    let user = this.cache.get(key);
    if (!user) {
      const record = await this.accounts.findUserByUsername(username);
      if (!record) return undefined;
      user = { id: record.id, username: record.username };
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      this.cache.set(key, user);
    }
    return { kind: 'local', userId: user.id, username: user.username };
  }

  async findLocalById(userId: number): Promise<Participant | undefined> {
    const record = await this.accounts.getUser(userId);
    return record && { kind: 'local', userId: record.id, username: record.username };
  }
}
