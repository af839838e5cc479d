// The configured peer backends with their key material: Fernet keys (current first, then the
// previous ones still accepted inbound) and the request-signing keys derived from them.
import { decodeKey, deriveKey, SIGNING_INFO } from '../crypto/keys.js';
import type { AddressList } from '../http/address-list.js';

/** A peer as PEERS (or PEER_NAME and PEER_URL) configures it. */
export interface PeerConfig {
  name: string;
  url: string;
  key: string;
  previousKeys: string[];
  compat: boolean;
  token?: string;
  /** Compat peers only: the source addresses its unsigned requests may come from (unset: any). */
  allowFrom?: AddressList;
}

export interface Peer {
  name: string;
  url: string;
  compat: boolean;
  /** Our account's token on a compat peer, sent as `Authorization: Token ...`. */
  token?: string;
  /** A compat peer's source addresses, when its unsigned requests must come from them. */
  allowFrom?: AddressList;
  /** Raw 32-byte Fernet keys; the first one is used outbound. */
  fernetKeys: Buffer[];
  /** HKDF-derived signing keys, in the same order. */
  signingKeys: Buffer[];
}

export class PeerDirectory {
  private readonly byName = new Map<string, Peer>();
  readonly all: Peer[];

  constructor(configs: PeerConfig[]) {
    this.all = configs.map((config) => {
      const fernetKeys = [config.key, ...config.previousKeys].map(decodeKey);
      return {
        name: config.name,
        url: config.url,
        compat: config.compat,
        ...(config.token !== undefined ? { token: config.token } : {}),
        ...(config.allowFrom !== undefined ? { allowFrom: config.allowFrom } : {}),
        fernetKeys,
        signingKeys: fernetKeys.map((key) => deriveKey(key, SIGNING_INFO)),
      };
    });
    // Peer names are host-like, so they match ignoring case.
    for (const peer of this.all) this.byName.set(peer.name.toLowerCase(), peer);
  }

  find(name: string): Peer | undefined {
    return this.byName.get(name.toLowerCase());
  }

  /** The peer a bare name goes to when it is not a local user: only when exactly one is configured. */
  get only(): Peer | undefined {
    return this.all.length === 1 ? this.all[0] : undefined;
  }

  /** The peer a request without X-RealChat-Origin comes from: the one compat peer, if exactly one. */
  get compatPeer(): Peer | undefined {
    const compat = this.all.filter((peer) => peer.compat);
    return compat.length === 1 ? compat[0] : undefined;
  }
}
