// FeedStream on its own, with a fake feed and a fake socket: the edge cases of merging live
// events with reads from the feed (out of order, gaps, duplicates, a full queue, a replay, a
// failing read) that whole servers reach only by chance.
import { describe, expect, it } from 'vitest';
import { Gone } from '../../src/http/errors.js';
import { FeedStream, type FeedReader, type SequencedEvent, type StreamSink } from '../../src/realtime/feed-stream.js';

const USER = 7;

/** A user's feed: events 1..n, paged as the real reader pages them. */
class FakeFeed implements FeedReader {
  readonly events: Array<SequencedEvent & { from: 'feed' }> = [];
  pagesRead = 0;
  failWith: unknown;

  constructor(count = 0) {
    this.append(count);
  }

  append(count: number): void {
    for (let i = 0; i < count; i++) this.events.push({ seq: this.events.length + 1, from: 'feed' });
  }

  async head(userId: number): Promise<number> {
    expect(userId).toBe(USER);
    if (this.failWith) throw this.failWith;
    return this.events.length;
  }

  async page(userId: number, after: number, limit: number): Promise<{ results: SequencedEvent[]; next: number | null }> {
    expect(userId).toBe(USER);
    this.pagesRead += 1;
    if (this.failWith) throw this.failWith;
    const results = this.events.filter((event) => event.seq > after).slice(0, limit);
    const last = results.at(-1);
    return { results, next: last && last.seq < this.events.length ? last.seq : null };
  }
}

/** A socket that records the seqs it was sent, and where each frame came from. */
class FakeSink implements StreamSink {
  open = true;
  readonly sent: Array<{ seq: number; from: string }> = [];
  private waiters: Array<() => void> = [];
  /** While set, paced sends (replays) wait for it: the replay is "slow". */
  gate: Promise<void> | undefined;

  send(data: string): void {
    this.record(data);
  }

  async sendPaced(data: string): Promise<void> {
    await this.gate;
    this.record(data);
  }

  get seqs(): number[] {
    return this.sent.map((frame) => frame.seq);
  }

  /** Resolves once `count` frames were sent; fails after a deadline. */
  async sentAtLeast(count: number, timeoutMs = 2000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.sent.length < count) {
      if (Date.now() > deadline) throw new Error(`${this.sent.length} frames sent, waited for ${count}`);
      await new Promise<void>((wake) => {
        this.waiters.push(wake);
        setTimeout(wake, 50).unref();
      });
    }
  }

  private record(data: string): void {
    this.sent.push(JSON.parse(data) as { seq: number; from: string });
    for (const wake of this.waiters.splice(0)) wake();
  }
}

function live(seq: number): string {
  return JSON.stringify({ seq, from: 'live' });
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

function streamOf(feed: FakeFeed, sink: FakeSink): { stream: FeedStream; errors: unknown[] } {
  const errors: unknown[] = [];
  return { stream: new FeedStream(USER, feed, sink, (error) => errors.push(error)), errors };
}

describe('FeedStream', () => {
  it('starts at the feed’s head and sends a live event that follows it at once', async () => {
    const feed = new FakeFeed(3);
    const sink = new FakeSink();
    const { stream } = streamOf(feed, sink);
    await stream.start(undefined);
    stream.offer(4, 3, live(4));
    stream.offer(5, 4, live(5));
    expect(sink.sent).toEqual([
      { seq: 4, from: 'live' },
      { seq: 5, from: 'live' },
    ]);
    expect(feed.pagesRead).toBe(0);
  });

  it('drops live events already sent, and those at or before the head', async () => {
    const feed = new FakeFeed(3);
    const sink = new FakeSink();
    const { stream } = streamOf(feed, sink);
    await stream.start(undefined);
    stream.offer(3, 2, live(3));
    stream.offer(4, 3, live(4));
    stream.offer(4, 3, live(4));
    stream.offer(2, 1, live(2));
    expect(sink.seqs).toEqual([4]);
  });

  it('fills a gap from the feed when a live event skips seqs, then goes on live', async () => {
    const feed = new FakeFeed(1);
    const sink = new FakeSink();
    const { stream } = streamOf(feed, sink);
    await stream.start(undefined);
    feed.append(3);
    // 2 and 3 were lost on the bus: 4 says its predecessor is 3.
    stream.offer(4, 3, live(4));
    await sink.sentAtLeast(3);
    feed.append(1);
    stream.offer(5, 4, live(5));
    await sink.sentAtLeast(4);
    expect(sink.sent).toEqual([
      { seq: 2, from: 'feed' },
      { seq: 3, from: 'feed' },
      { seq: 4, from: 'feed' },
      { seq: 5, from: 'live' },
    ]);
  });

  it('puts events that arrive out of order back in order, each once', async () => {
    const feed = new FakeFeed(1);
    const sink = new FakeSink();
    const { stream } = streamOf(feed, sink);
    await stream.start(undefined);
    feed.append(2);
    stream.offer(3, 2, live(3));
    stream.offer(2, 1, live(2));
    await sink.sentAtLeast(2);
    stream.offer(3, 2, live(3));
    expect(sink.seqs).toEqual([2, 3]);
  });

  it('waits a turn for an event emitted a moment after the one that follows it, without reading the feed', async () => {
    const feed = new FakeFeed(1);
    const sink = new FakeSink();
    const { stream } = streamOf(feed, sink);
    await stream.start(undefined);
    feed.append(2);
    stream.offer(3, 2, live(3));
    // Two writes of one batch: the earlier one's event a few promise steps behind.
    await Promise.resolve();
    stream.offer(2, 1, live(2));
    await sink.sentAtLeast(2);
    expect(sink.sent).toEqual([
      { seq: 2, from: 'live' },
      { seq: 3, from: 'live' },
    ]);
    expect(feed.pagesRead).toBe(0);
  });

  it('replays everything after `after`, across pages, before anything live', async () => {
    const feed = new FakeFeed(1203);
    const sink = new FakeSink();
    const { stream } = streamOf(feed, sink);
    let release!: () => void;
    sink.gate = new Promise<void>((resolve) => (release = resolve));
    const started = stream.start(200);
    // Live events committed while the replay runs: those the replay reaches are dropped.
    feed.append(2);
    stream.offer(1204, 1203, live(1204));
    stream.offer(1205, 1204, live(1205));
    release();
    await started;
    await sink.sentAtLeast(1005);
    expect(sink.seqs).toEqual(range(201, 1205));
    expect(feed.pagesRead).toBeGreaterThanOrEqual(3);
  });

  it('replays nothing when `after` is the head, then sends live events', async () => {
    const feed = new FakeFeed(5);
    const sink = new FakeSink();
    const { stream } = streamOf(feed, sink);
    await stream.start(5);
    stream.offer(6, 5, live(6));
    expect(sink.sent).toEqual([{ seq: 6, from: 'live' }]);
  });

  it('reads from the feed the live events a full queue could not keep', async () => {
    const feed = new FakeFeed(5);
    const sink = new FakeSink();
    const { stream } = streamOf(feed, sink);
    let release!: () => void;
    sink.gate = new Promise<void>((resolve) => (release = resolve));
    const started = stream.start(0);
    // 1,100 live events while the replay is held: more than the queue keeps (1,000).
    for (const seq of range(6, 1105)) {
      feed.append(1);
      stream.offer(seq, seq - 1, live(seq));
    }
    release();
    await started;
    await sink.sentAtLeast(1105);
    expect(sink.seqs).toEqual(range(1, 1105));
  });

  it('keeps live events while a gap is filled, and sends them in order after it', async () => {
    const feed = new FakeFeed(1);
    const sink = new FakeSink();
    const { stream } = streamOf(feed, sink);
    await stream.start(undefined);
    feed.append(2);
    let release!: () => void;
    sink.gate = new Promise<void>((resolve) => (release = resolve));
    stream.offer(3, 2, live(3));
    // Sent while the gap (2) is read: waits behind it.
    stream.offer(4, 3, live(4));
    feed.append(1);
    release();
    await sink.sentAtLeast(3);
    expect(sink.seqs).toEqual([2, 3, 4]);
  });

  it('leaves a failing start to its caller (Gone for a pruned `after`)', async () => {
    const feed = new FakeFeed(3);
    feed.failWith = new Gone('pruned', { seq: 3 });
    const { stream, errors } = streamOf(feed, new FakeSink());
    await expect(stream.start(1)).rejects.toBeInstanceOf(Gone);
    await expect(streamOf(feed, new FakeSink()).stream.start(undefined)).rejects.toBeInstanceOf(Gone);
    expect(errors).toEqual([]);
  });

  it('reports a read that fails while filling a gap, and sends nothing of it', async () => {
    const feed = new FakeFeed(1);
    const sink = new FakeSink();
    const { stream, errors } = streamOf(feed, sink);
    await stream.start(undefined);
    const down = new Error('database down');
    feed.failWith = down;
    stream.offer(3, 2, live(3));
    const deadline = Date.now() + 2000;
    while (errors.length === 0 && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
    expect(errors).toEqual([down]);
    expect(sink.sent).toEqual([]);
  });

  it('stops reading the feed once the socket is closed', async () => {
    const feed = new FakeFeed(1200);
    const sink = new FakeSink();
    sink.open = false;
    const { stream } = streamOf(feed, sink);
    await stream.start(0);
    expect(feed.pagesRead).toBe(0);
    expect(sink.sent).toEqual([]);
  });
});
