// A background job the app runs at start and then every interval (pruning old rows), never two
// runs at once, and waited for when the app stops. The job reports its own outcome.
/** How often to prune rows kept for `keptMs`: a tenth of that, between 1 s and 1 h. */
export function pruneIntervalFor(keptMs: number): number {
  return Math.min(3_600_000, Math.max(1000, Math.floor(keptMs / 10)));
}

export class PeriodicJob {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly run: () => Promise<void>,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.runNow(), this.intervalMs);
    this.timer.unref();
    void this.runNow();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** Runs the job, or answers the run already under way. */
  runNow(): Promise<void> {
    // A job reports its own failures; one that throws anyway must not end the process from a timer.
    this.running ??= this.run()
      .catch(() => undefined)
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }
}
