// The order of first tries per receiver in one process, driven by hand-settled tries and a fake clock.
import { afterEach, beforeEach, describe, it, expect, vi } from 'vitest';
import { FirstTryQueue } from '../../../src/federation/outbox/first-try.js';
import type { MessageStatus } from '../../../src/messages/view.js';

const WAIT_MS = 300;

interface Deferred {
  promise: Promise<MessageStatus>;
  resolve(status: MessageStatus): void;
  reject(error: unknown): void;
}

function deferred(): Deferred {
  let resolve!: (status: MessageStatus) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<MessageStatus>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** What a promise has come to so far, read after the fake clock has moved. */
function watch(promise: Promise<MessageStatus> | undefined): { value?: MessageStatus; error?: unknown } {
  if (!promise) throw new Error('nothing was queued');
  const seen: { value?: MessageStatus; error?: unknown } = {};
  promise.then(
    (value) => (seen.value = value),
    (error: unknown) => (seen.error = error),
  );
  return seen;
}

/** A try queued behind another, that says when it started and ends when the test says. */
function laterTry(started: string[], name: string): { run: () => Promise<MessageStatus>; attempt: Deferred } {
  const attempt = deferred();
  return {
    attempt,
    run: () => {
      started.push(name);
      return attempt.promise;
    },
  };
}

describe('FirstTryQueue', () => {
  let queue: FirstTryQueue;

  beforeEach(() => {
    vi.useFakeTimers();
    queue = new FirstTryQueue(WAIT_MS);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** Two sends to bob: the first under way, the second queued behind it. */
  function twoSends() {
    const started: string[] = [];
    const first = deferred();
    const firstAnswer = watch(queue.tryNow('bob@b', first.promise));
    const second = laterTry(started, 'second');
    const answer = watch(queue.tryAfterLast('bob@b', second.run));
    return { started, first, firstAnswer, second, answer };
  }

  it('answers the status of a try that ends within the wait', async () => {
    const first = deferred();
    const answer = watch(queue.tryNow('bob@b', first.promise));
    await vi.advanceTimersByTimeAsync(100);
    first.resolve('delivered');
    await vi.advanceTimersByTimeAsync(0);
    expect(answer.value).toBe('delivered');
  });

  it('answers queued once the wait is over, and the try goes on', async () => {
    const first = deferred();
    const answer = watch(queue.tryNow('bob@b', first.promise));
    await vi.advanceTimersByTimeAsync(WAIT_MS - 1);
    expect(answer.value).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(answer.value).toBe('queued');
    // Still in hand: a send behind it waits for it.
    expect(queue.tryAfterLast('bob@b', () => Promise.resolve('delivered'))).toBeDefined();
  });

  it('has nothing to queue behind for a receiver with no try in hand, nor once its last try ended', async () => {
    expect(queue.tryAfterLast('bob@b', () => Promise.resolve('delivered'))).toBeUndefined();
    const first = deferred();
    void queue.tryNow('bob@b', first.promise);
    first.resolve('delivered');
    await vi.advanceTimersByTimeAsync(0);
    expect(queue.tryAfterLast('bob@b', () => Promise.resolve('delivered'))).toBeUndefined();
  });

  it('starts a send behind an earlier one only when that one ends, and answers its status', async () => {
    const { started, first, second, answer } = twoSends();
    await vi.advanceTimersByTimeAsync(100);
    expect(started).toEqual([]);
    first.resolve('delivered');
    await vi.advanceTimersByTimeAsync(0);
    expect(started).toEqual(['second']);
    expect(answer.value).toBeUndefined();
    second.attempt.resolve('delivered');
    await vi.advanceTimersByTimeAsync(0);
    expect(answer.value).toBe('delivered');
  });

  it('counts the wait of a send behind another from its own start', async () => {
    const started: string[] = [];
    const first = deferred();
    void queue.tryNow('bob@b', first.promise);
    await vi.advanceTimersByTimeAsync(200);
    const second = laterTry(started, 'second');
    const answer = watch(queue.tryAfterLast('bob@b', second.run));
    // 400 ms after the first began, 200 ms after the second joined.
    await vi.advanceTimersByTimeAsync(200);
    first.resolve('delivered');
    await vi.advanceTimersByTimeAsync(50);
    second.attempt.resolve('delivered');
    await vi.advanceTimersByTimeAsync(0);
    expect(answer.value).toBe('delivered');
  });

  it('answers queued to a send still waiting behind another when the wait is over, and still tries it after', async () => {
    const { started, first, answer } = twoSends();
    await vi.advanceTimersByTimeAsync(WAIT_MS);
    expect(answer.value).toBe('queued');
    expect(started).toEqual([]);
    first.resolve('queued');
    await vi.advanceTimersByTimeAsync(0);
    expect(started).toEqual(['second']);
  });

  const bookkeepingFailed = new Error('bookkeeping failed');
  it.each<[string, (ahead: Deferred) => void, { value?: MessageStatus; error?: unknown }]>([
    ['refused for good', (ahead) => ahead.resolve('failed'), { value: 'failed' }],
    ['left for a retry', (ahead) => ahead.resolve('queued'), { value: 'queued' }],
    ['rejected', (ahead) => ahead.reject(bookkeepingFailed), { error: bookkeepingFailed }],
  ])('does not hold up the send behind a try that was %s', async (_what, end, firstCameTo) => {
    const { started, first, firstAnswer, second, answer } = twoSends();
    end(first);
    await vi.advanceTimersByTimeAsync(0);
    expect(started).toEqual(['second']);
    second.attempt.resolve('delivered');
    await vi.advanceTimersByTimeAsync(0);
    expect(answer.value).toBe('delivered');
    // The earlier send's own answer is what its try came to.
    expect(firstAnswer).toEqual(firstCameTo);
  });

  it('keeps the order of sends to one receiver: each starts after the one before it ends', async () => {
    const started: string[] = [];
    const first = deferred();
    void queue.tryNow('bob@b', first.promise);
    const second = laterTry(started, 'second');
    const third = laterTry(started, 'third');
    void queue.tryAfterLast('bob@b', second.run);
    void queue.tryAfterLast('bob@b', third.run);
    first.resolve('delivered');
    await vi.advanceTimersByTimeAsync(0);
    expect(started).toEqual(['second']);
    second.attempt.resolve('delivered');
    await vi.advanceTimersByTimeAsync(0);
    expect(started).toEqual(['second', 'third']);
  });

  it('lets receivers proceed independently: one slow receiver holds up no other', async () => {
    const started: string[] = [];
    const toBob = deferred();
    void queue.tryNow('bob@b', toBob.promise);
    const behindBob = laterTry(started, 'bob');
    void queue.tryAfterLast('bob@b', behindBob.run);

    const toCarol = deferred();
    const carolAnswer = watch(queue.tryNow('carol@c', toCarol.promise));
    const behindCarol = laterTry(started, 'carol');
    const behindCarolAnswer = watch(queue.tryAfterLast('carol@c', behindCarol.run));
    toCarol.resolve('delivered');
    await vi.advanceTimersByTimeAsync(0);
    behindCarol.attempt.resolve('failed');
    await vi.advanceTimersByTimeAsync(0);

    expect(started).toEqual(['carol']);
    expect(carolAnswer.value).toBe('delivered');
    expect(behindCarolAnswer.value).toBe('failed');
  });
});
