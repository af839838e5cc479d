// A background job the app runs at start and then every interval (pruning old rows), never two
// runs at once, and waited for when the app stops. It logs what each run removed, and a failed
// run (the database away) as a warning: the next run tries again.
import type { Logger } from 'pino';

/** How often to prune rows kept for `keptMs`: a tenth of that, between 1 s and 1 h. */
export function pruneIntervalFor(keptMs: number): number {
  return Math.min(3_600_000, Math.max(1000, Math.floor(keptMs / 10)));
}

export interface PeriodicJobOptions {
  /** What the log calls the job: `change feed pruning`. */
  name: string;
  /** One run: answers how many rows it removed. */
  run: () => Promise<number>;
  intervalMs: number;
  logger: Logger;
}

export class PeriodicJob {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly options: PeriodicJobOptions) {}

  start(): void {
    this.timer = setInterval(() => void this.runNow(), this.options.intervalMs);
    this.timer.unref();
    void this.runNow();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** Runs the job, or answers the run already under way. */
  runNow(): Promise<void> {
    const { name, run, logger } = this.options;
    this.running ??= run()
      .then(
        (removed) => {
          if (removed > 0) logger.info({ job: name, removed }, `${name}: removed old rows`);
        },
        (error: unknown) => logger.warn({ err: error, job: name }, `${name} failed; the next run tries again`),
      )
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }
}
