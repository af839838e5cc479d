// A logger for a test app that keeps what the server logs, as JSON entries the test can read.
import { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { createLogger } from '../../src/logger.js';

export type LogEntry = Record<string, unknown>;

export interface CapturedLog {
  logger: Logger;
  entries(): LogEntry[];
}

export function captureLog(level = 'info'): CapturedLog {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { logger: createLogger({ level, format: 'json' }, stream), entries: () => lines.map((line) => JSON.parse(line) as LogEntry) };
}
