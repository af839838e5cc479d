// Which protocol a peer gets, called directly with a fake clock: transactions by default, v1 for
// compat peers always and for 10 minutes after a 404 on the transactions path.
import { describe, expect, it } from 'vitest';
import { TransactionSupport, V1_FALLBACK_MS } from '../../../src/federation/transactions/support.js';

function support() {
  let now = 1_000_000;
  const tracker = new TransactionSupport(() => now);
  return { tracker, advance: (ms: number) => (now += ms) };
}

const realchat = { name: 'b', compat: false };
const original = { name: 'orig', compat: true };

describe('the protocol each peer gets', () => {
  it('sends RealChat peers transactions, and compat peers v1 always', () => {
    const { tracker, advance } = support();
    expect(tracker.protocolFor(realchat)).toBe('transactions');
    expect(tracker.protocolFor(original)).toBe('v1');
    advance(V1_FALLBACK_MS * 3);
    expect(tracker.protocolFor(original)).toBe('v1');
  });

  it('falls back to v1 for 10 minutes after a 404, then tries transactions again', () => {
    const { tracker, advance } = support();
    expect(V1_FALLBACK_MS).toBe(600_000);
    tracker.markUnsupported(realchat);
    expect(tracker.protocolFor(realchat)).toBe('v1');
    advance(V1_FALLBACK_MS - 1);
    expect(tracker.protocolFor(realchat)).toBe('v1');
    advance(1);
    expect(tracker.protocolFor(realchat)).toBe('transactions');
    expect(tracker.protocolFor(realchat)).toBe('transactions');
  });

  it('counts the 10 minutes again from each new 404', () => {
    const { tracker, advance } = support();
    tracker.markUnsupported(realchat);
    advance(V1_FALLBACK_MS);
    expect(tracker.protocolFor(realchat)).toBe('transactions');
    advance(5_000);
    tracker.markUnsupported(realchat);
    advance(V1_FALLBACK_MS - 1);
    expect(tracker.protocolFor(realchat)).toBe('v1');
  });

  it('keeps peers apart, and finds a peer by its name ignoring case', () => {
    const { tracker } = support();
    tracker.markUnsupported({ name: 'B' });
    expect(tracker.protocolFor(realchat)).toBe('v1');
    expect(tracker.protocolFor({ name: 'c', compat: false })).toBe('transactions');
  });
});
