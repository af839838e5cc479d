// A periodic job runs once at a time, logs what a run removed, and logs a failed run as a warning
// without stopping: the next run tries again.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { PeriodicJob } from '../../src/jobs/periodic-job.js';
import { createLogger } from '../../src/logger.js';

function capturedLog(): { logger: ReturnType<typeof createLogger>; entries: () => Record<string, unknown>[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  return { logger: createLogger({ level: 'info', format: 'json' }, stream), entries: () => lines.join('').trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>) };
}

describe('a periodic job', () => {
  it('logs how many rows a run removed, and nothing for a run that removed none', async () => {
    const { logger, entries } = capturedLog();
    const removed = [3, 0];
    const job = new PeriodicJob({ name: 'test pruning', run: async () => removed.shift()!, intervalMs: 60_000, logger });
    await job.runNow();
    await job.runNow();
    expect(entries().map((entry) => [entry.level, entry.msg, entry.removed])).toEqual([[30, 'test pruning: removed old rows', 3]]);
  });

  it('logs a failed run as a warning with its error, and runs again next time', async () => {
    const { logger, entries } = capturedLog();
    let runs = 0;
    const job = new PeriodicJob({
      name: 'test pruning',
      run: async () => {
        if (++runs === 1) throw new Error('database is locked');
        return 1;
      },
      intervalMs: 60_000,
      logger,
    });
    await job.runNow();
    await job.runNow();
    const [failed, removed] = entries();
    expect(failed).toMatchObject({ level: 40, job: 'test pruning', err: { message: 'database is locked' } });
    expect(removed).toMatchObject({ level: 30, removed: 1 });
  });

  it('answers the run under way instead of starting a second', async () => {
    const { logger } = capturedLog();
    let runs = 0;
    let finish: (removed: number) => void = () => undefined;
    const run = () => {
      runs += 1;
      return new Promise<number>((resolve) => (finish = resolve));
    };
    const job = new PeriodicJob({ name: 'test pruning', run, intervalMs: 60_000, logger });
    const first = job.runNow();
    const second = job.runNow();
    expect(second).toBe(first);
    finish(0);
    await first;
    expect(runs).toBe(1);
  });
});
