// Sends waiting for their entry's first delivery, on a fake clock: answered with the status it
// ends with, `queued` when their receiver's line goes back to wait, and `queued` after the wait.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { StatusWaiters } from '../../../src/federation/outbox/waiters.js';

describe('StatusWaiters', () => {
  let waiters: StatusWaiters;
  beforeEach(() => {
    vi.useFakeTimers();
    waiters = new StatusWaiters(300);
  });
  afterEach(() => vi.useRealTimers());

  it('answers every send waiting on an entry with the status it ends with', async () => {
    const first = waiters.wait(1, 'bob');
    const again = waiters.wait(1, 'bob');
    waiters.ended(1, { status: 'failed' });
    expect(await Promise.all([first, again])).toEqual([{ status: 'failed' }, { status: 'failed' }]);
  });

  it('answers queued when the receiver’s line goes back to wait, and leaves other receivers waiting', async () => {
    const bobs = waiters.wait(1, 'bob');
    const daves = waiters.wait(2, 'dave');
    waiters.requeued(new Set(['bob']));
    expect(await bobs).toEqual({ status: 'queued' });
    waiters.ended(2, { status: 'delivered' });
    expect(await daves).toEqual({ status: 'delivered' });
  });

  it('answers queued after the wait, and forgets the send', async () => {
    const late = waiters.wait(1, 'bob');
    await vi.advanceTimersByTimeAsync(300);
    expect(await late).toEqual({ status: 'queued' });
    const later = waiters.wait(1, 'bob');
    waiters.ended(1, { status: 'delivered' });
    expect(await later).toEqual({ status: 'delivered' });
  });

  it('answers everyone queued when released at shutdown', async () => {
    const waiting = [waiters.wait(1, 'bob'), waiters.wait(2, 'dave')];
    waiters.releaseAll();
    expect(await Promise.all(waiting)).toEqual([{ status: 'queued' }, { status: 'queued' }]);
  });
});
