// Which protocol each peer gets (federation.md, "Transactions"): transactions, except that compat
// peers always get v1 requests and a peer that answered 404 on the transactions path (an older
// RealChat) gets v1 for the next 10 minutes, then transactions again. The outbox asks it before each send.
import type { Peer } from '../peers.js';

export type PeerProtocol = 'transactions' | 'v1';

export const V1_FALLBACK_MS = 10 * 60_000;

export class TransactionSupport {
  /** Until when each peer, by lower-cased name, gets v1 requests. */
  private readonly v1Until = new Map<string, number>();

  constructor(private readonly clock: () => number) {}

  protocolFor(peer: Pick<Peer, 'name' | 'compat'>): PeerProtocol {
    if (peer.compat) return 'v1';
    const key = peer.name.toLowerCase();
    const until = this.v1Until.get(key);
    if (until === undefined) return 'transactions';
    if (this.clock() < until) return 'v1';
    this.v1Until.delete(key);
    return 'transactions';
  }

  /** The peer answered 404 on the transactions path. */
  markUnsupported(peer: Pick<Peer, 'name'>): void {
    this.v1Until.set(peer.name.toLowerCase(), this.clock() + V1_FALLBACK_MS);
  }
}
