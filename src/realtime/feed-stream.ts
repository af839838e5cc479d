// One socket's view of its user's change feed: events go out in seq order, each once, none
// missing. A live event is sent at once when it follows the last one sent (its `prev` is that
// seq). One that arrives early waits, in seq order, for a turn of the event loop: the one before
// it is usually a moment behind (two writes of one batch emit their events a few promise steps
// apart). Still missing then (events from several instances race on the bus; Redis may drop
// some), the stream reads the missing ones from the feed first. A replay
// (`after`) reads the feed up to its end while live events wait in a bounded queue; those the
// replay already sent are dropped, so the two meet with no gap and no duplicate.

/** What the stream needs of a feed event: its seq (the rest goes to the client as it is). */
export interface SequencedEvent {
  seq: number;
}

export interface FeedReader {
  /** The user's latest seq (0: none). */
  head(userId: number): Promise<number>;
  /** The user's events after a seq, oldest first; throws Gone when they were pruned. */
  page(userId: number, after: number, limit: number): Promise<{ results: SequencedEvent[]; next: number | null }>;
}

/** A text frame as it goes out: JSON, or JSON already encoded as UTF-8 (one encoding for every socket it goes to). */
export type TextFrame = string | Buffer;

export interface StreamSink {
  readonly open: boolean;
  /** Sends a live frame (the gateway's slow-consumer rule applies). */
  send(data: TextFrame): void;
  /** Sends a frame read from the feed, waiting for the socket to drain when it has a backlog. */
  sendPaced(data: string): Promise<void>;
}

const PAGE_SIZE = 500;
// Live events kept while the feed is read; past this they are read from the feed instead.
const MAX_QUEUED = 1000;

interface Queued {
  seq: number;
  prev: number | undefined;
  data: TextFrame;
}

export class FeedStream {
  private lastSeq = 0;
  private readonly queue: Queued[] = [];
  /** Read the feed up to this seq before sending anything live. */
  private fillTo = 0;
  private running = true;

  constructor(
    private readonly userId: number,
    private readonly reader: FeedReader,
    private readonly sink: StreamSink,
    private readonly onError: (error: unknown) => void,
  ) {}

  /**
   * Starts after `after` (a replay of everything since), or at the user's latest seq. Live
   * events offered meanwhile wait; errors (Gone, a database down) are the caller's.
   */
  async start(after: number | undefined): Promise<void> {
    if (after === undefined) this.lastSeq = await this.reader.head(this.userId);
    else {
      this.lastSeq = after;
      await this.fill(Number.POSITIVE_INFINITY);
    }
    this.running = false;
    if (this.queue.length > 0) void this.pump();
  }

  /** A live event with its seq, the seq before it in the user's feed (if known), and its frame. */
  offer(seq: number, prev: number | undefined, data: TextFrame): void {
    if (!this.running && this.queue.length === 0) {
      if (seq <= this.lastSeq) return;
      if (prev === this.lastSeq) {
        this.sink.send(data);
        this.lastSeq = seq;
        return;
      }
    }
    if (this.queue.length < MAX_QUEUED) this.enqueue({ seq, prev, data });
    else this.fillTo = Math.max(this.fillTo, seq);
    if (!this.running) void this.pump();
  }

  /** Keeps the queue in seq order, so that an event that arrives late goes before those after it. */
  private enqueue(event: Queued): void {
    let index = this.queue.length;
    while (index > 0 && this.queue[index - 1]!.seq > event.seq) index -= 1;
    this.queue.splice(index, 0, event);
  }

  private async pump(): Promise<void> {
    this.running = true;
    let waitedFor: number | undefined;
    try {
      while (this.sink.open) {
        if (this.fillTo > this.lastSeq) {
          await this.fill(this.fillTo);
          continue;
        }
        const next = this.queue[0];
        if (!next) break;
        if (next.seq > this.lastSeq && next.prev !== this.lastSeq && waitedFor !== next.seq) {
          // The one before it may be a moment behind: one turn of the event loop before a read.
          waitedFor = next.seq;
          await new Promise((resolve) => setImmediate(resolve));
          continue;
        }
        this.queue.shift();
        if (next.seq <= this.lastSeq) continue;
        if (next.prev === this.lastSeq) {
          this.sink.send(next.data);
          this.lastSeq = next.seq;
        } else {
          // Committed, so is every event before it: the feed has them all.
          this.fillTo = next.seq;
        }
      }
    } catch (error) {
      this.onError(error);
    } finally {
      this.running = false;
    }
  }

  /** Sends the feed's events after the last one sent, up to `target` or the feed's end. */
  private async fill(target: number): Promise<void> {
    const asked = this.fillTo;
    while (this.lastSeq < target && this.sink.open) {
      const page = await this.reader.page(this.userId, this.lastSeq, PAGE_SIZE);
      for (const event of page.results) {
        if (event.seq <= this.lastSeq) continue;
        await this.sink.sendPaced(JSON.stringify(event));
        this.lastSeq = event.seq;
      }
      if (page.next === null) break;
      // An embedded database answers without yielding: let other work in between pages.
      await new Promise((resolve) => setImmediate(resolve));
    }
    // Events dropped from a full queue meanwhile may be past what was read: those are read next.
    if (this.fillTo === asked || this.fillTo <= this.lastSeq) this.fillTo = 0;
  }
}
