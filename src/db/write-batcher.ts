// Group commit: writes submitted while one transaction runs are committed together in the
// next one, so a burst of sends costs a few transactions instead of one each.

export type BatchWriter<I, O> = (items: I[]) => Promise<O[]>;

interface Pending<I, O> {
  item: I;
  resolve(value: O): void;
  reject(error: unknown): void;
}

export class WriteBatcher<I, O> {
  private queue: Pending<I, O>[] = [];
  private running: Promise<void> | undefined;
  private scheduled = false;

  constructor(
    private readonly write: BatchWriter<I, O>,
    private readonly maxBatch = 200,
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  /** Resolves once everything submitted so far is written. */
  async drain(): Promise<void> {
    while (this.running || this.queue.length > 0 || this.scheduled) {
      await (this.running ?? new Promise<void>((resolve) => setImmediate(resolve)));
    }
  }

  private schedule(): void {
    if (this.scheduled || this.running) return;
    this.scheduled = true;
    // One turn of the event loop lets the requests that arrived together join the batch.
    setImmediate(() => {
      this.scheduled = false;
      this.running = this.runBatches().finally(() => {
        this.running = undefined;
        if (this.queue.length > 0) this.schedule();
      });
    });
  }

  private async runBatches(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      await this.writeBatch(batch);
    }
  }

  private async writeBatch(batch: Pending<I, O>[]): Promise<void> {
    try {
      const results = await this.write(batch.map((pending) => pending.item));
      batch.forEach((pending, index) => pending.resolve(results[index]!));
    } catch (error) {
      if (batch.length === 1) {
        batch[0]!.reject(error);
        return;
      }
      // One bad write must not fail the others that happened to share its transaction.
      for (const pending of batch) await this.writeBatch([pending]);
    }
  }
}
