// Group commit: what one tick submits is written in one batch, a batch that fails is retried
// item by item so only the bad item fails, every caller gets its own result, and drain() waits.
import { describe, expect, it } from 'vitest';
import { WriteBatcher } from '../../src/db/write-batcher.js';

/** A writer that records every batch it is given and doubles each number, refusing negatives. */
function recordingWriter() {
  const batches: number[][] = [];
  const write = async (items: number[]): Promise<number[]> => {
    batches.push([...items]);
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (items.some((item) => item < 0)) throw new Error(`refused ${items.find((item) => item < 0)}`);
    return items.map((item) => item * 2);
  };
  return { batches, write };
}

describe('WriteBatcher', () => {
  it('writes what one tick submits in one batch, in submission order', async () => {
    const { batches, write } = recordingWriter();
    const batcher = new WriteBatcher(write);
    const results = await Promise.all([1, 2, 3, 4].map((item) => batcher.submit(item)));
    expect(results).toEqual([2, 4, 6, 8]);
    expect(batches).toEqual([[1, 2, 3, 4]]);
  });

  it('gives each caller the result at its own index', async () => {
    const batcher = new WriteBatcher(async (items: string[]) => items.map((item) => item.toUpperCase()));
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((item) => batcher.submit(item)));
    expect([a, b, c]).toEqual(['A', 'B', 'C']);
  });

  it('retries a failing batch item by item, so only the bad item fails', async () => {
    const { batches, write } = recordingWriter();
    const batcher = new WriteBatcher(write);
    const outcomes = await Promise.allSettled([1, -2, 3].map((item) => batcher.submit(item)));
    expect(outcomes).toEqual([
      { status: 'fulfilled', value: 2 },
      { status: 'rejected', reason: new Error('refused -2') },
      { status: 'fulfilled', value: 6 },
    ]);
    expect(batches).toEqual([[1, -2, 3], [1], [-2], [3]]);
  });

  it('fails a lone item with its own error, without a retry', async () => {
    const { batches, write } = recordingWriter();
    const batcher = new WriteBatcher(write);
    await expect(batcher.submit(-1)).rejects.toThrow('refused -1');
    expect(batches).toEqual([[-1]]);
  });

  it('splits a burst into batches of at most maxBatch, in order', async () => {
    const { batches, write } = recordingWriter();
    const batcher = new WriteBatcher(write, 2);
    const results = await Promise.all([1, 2, 3, 4, 5].map((item) => batcher.submit(item)));
    expect(results).toEqual([2, 4, 6, 8, 10]);
    expect(batches).toEqual([[1, 2], [3, 4], [5]]);
  });

  it('collects what arrives while a batch is written into the next batch', async () => {
    const { batches, write } = recordingWriter();
    const batcher = new WriteBatcher(write);
    const first = batcher.submit(1);
    // The first batch starts on the next turn; these arrive while it is being written.
    await new Promise<void>((resolve) => setImmediate(resolve));
    const later = [2, 3].map((item) => batcher.submit(item));
    expect(await Promise.all([first, ...later])).toEqual([2, 4, 6]);
    expect(batches).toEqual([[1], [2, 3]]);
  });

  it('drain() resolves once everything submitted so far is written', async () => {
    const { batches, write } = recordingWriter();
    const batcher = new WriteBatcher(write);
    const settled: number[] = [];
    for (const item of [1, 2, 3]) void batcher.submit(item).then((value) => settled.push(value));
    await batcher.drain();
    expect(batches).toEqual([[1, 2, 3]]);
    // The results' callbacks ran in the same turns as the write, before drain() returned.
    await Promise.resolve();
    expect(settled).toEqual([2, 4, 6]);
  });

  it('drain() with nothing submitted resolves at once', async () => {
    const batcher = new WriteBatcher(recordingWriter().write);
    await expect(batcher.drain()).resolves.toBeUndefined();
  });
});
