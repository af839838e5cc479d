import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';

function logOnce(write: (logger: ReturnType<typeof createLogger>) => void): Record<string, unknown> {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  write(createLogger({ level: 'info', format: 'json' }, stream));
  return JSON.parse(lines.join('')) as Record<string, unknown>;
}

describe('the logger', () => {
  it("keeps a logged error's own message, which says what went wrong", () => {
    const entry = logOnce((logger) => logger.warn({ err: new Error('connect ECONNREFUSED 127.0.0.1:6379') }, 'redis connection error'));
    expect((entry.err as { message: string }).message).toBe('connect ECONNREFUSED 127.0.0.1:6379');
  });

  it('blanks passwords, tokens, keys and the authorization header wherever they are logged', () => {
    const entry = logOnce((logger) =>
      logger.info({ req: { headers: { authorization: 'Token abc' } }, body: { password: 'hunter22', token: 't0k', key: 'k3y' }, token: 'top' }, 'x'),
    );
    const text = JSON.stringify(entry);
    for (const secret of ['Token abc', 'hunter22', 't0k', 'k3y', 'top']) expect(text).not.toContain(secret);
    expect(text).toContain('[redacted]');
  });
});
