// LogVerifier, the development provider: the code goes to the log and the flow matches Vonage's.
import { pino } from 'pino';
import { beforeEach, describe, expect, it } from 'vitest';
import { BadRequest } from '../../src/http/errors.js';
import { LogVerifier } from '../../src/sms/log.js';
import { VerificationInProgress } from '../../src/sms/provider.js';

const phone = '+447700900123';

let logLines: string[];
let now: number;

function verifier(options: { ttlMs?: number; maxAttempts?: number } = {}): LogVerifier {
  const logger = pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) });
  return new LogVerifier({ logger, clock: () => now, ...options });
}

/** The code the provider logged for a request. */
function loggedCode(requestId: string): string {
  const entry = logLines.map((line) => JSON.parse(line) as Record<string, unknown>).find((e) => e.request_id === requestId);
  return entry!.code as string;
}

function wrongCode(requestId: string): string {
  return loggedCode(requestId) === '000000' ? '111111' : '000000';
}

beforeEach(() => {
  logLines = [];
  now = Date.parse('2025-01-01T00:00:00Z');
});

describe('LogVerifier', () => {
  it('logs the phone number and a 6-digit code at warn level, and verifies that code once', async () => {
    const sms = verifier();

    const { requestId } = await sms.start(phone);

    const entry = JSON.parse(logLines[0]!) as Record<string, unknown>;
    expect(entry).toMatchObject({ level: 40, phone_number: phone, request_id: requestId, sms_provider: 'log' });
    expect(entry.code).toMatch(/^[0-9]{6}$/);
    expect(entry.msg).toMatch(/logged instead of sent/);
    expect(await sms.check(requestId, loggedCode(requestId))).toBe('verified');
    expect(await sms.check(requestId, loggedCode(requestId))).toBe('expired');
  });

  it('answers invalid_code to a wrong code and still accepts the right one', async () => {
    const sms = verifier();
    const { requestId } = await sms.start(phone);

    expect(await sms.check(requestId, wrongCode(requestId))).toBe('invalid_code');
    expect(await sms.check(requestId, `${loggedCode(requestId)}0`)).toBe('invalid_code');
    expect(await sms.check(requestId, loggedCode(requestId))).toBe('verified');
  });

  it('voids the verification after too many wrong codes', async () => {
    const sms = verifier({ maxAttempts: 3 });
    const { requestId } = await sms.start(phone);
    const wrong = wrongCode(requestId);

    expect(await sms.check(requestId, wrong)).toBe('invalid_code');
    expect(await sms.check(requestId, wrong)).toBe('invalid_code');
    expect(await sms.check(requestId, wrong)).toBe('too_many_attempts');
    expect(await sms.check(requestId, loggedCode(requestId))).toBe('expired');
  });

  it('does not count a malformed code as an attempt', async () => {
    const sms = verifier({ maxAttempts: 1 });
    const { requestId } = await sms.start(phone);

    expect(await sms.check(requestId, 'abc')).toBe('invalid_code');
    expect(await sms.check(requestId, loggedCode(requestId))).toBe('verified');
  });

  it('answers expired once the ttl has passed, and then sends a new code to the same number', async () => {
    const sms = verifier({ ttlMs: 60_000 });
    const { requestId } = await sms.start(phone);

    now += 59_999;
    await expect(sms.start(phone)).rejects.toBeInstanceOf(VerificationInProgress);
    now += 1;
    expect(await sms.check(requestId, loggedCode(requestId))).toBe('expired');
    const again = await sms.start(phone);
    expect(again.requestId).not.toBe(requestId);
  });

  it('refuses a second code to a pending number, naming the pending request, until it is cancelled', async () => {
    const sms = verifier();
    const first = await sms.start(phone);

    await expect(sms.start(phone)).rejects.toMatchObject({ status: 409, code: 'verification_in_progress', requestId: first.requestId });
    await expect(sms.start('+447700900124')).resolves.toBeDefined();

    await sms.cancel(first.requestId);
    await sms.cancel(first.requestId);
    expect(await sms.check(first.requestId, loggedCode(first.requestId))).toBe('expired');
    const second = await sms.start(phone);
    expect(await sms.check(second.requestId, loggedCode(second.requestId))).toBe('verified');
  });

  it('refuses a number that is not E.164', async () => {
    const error = await verifier().start('0044 7700 900123').catch((e: unknown) => e);

    expect(error).toBeInstanceOf(BadRequest);
    expect(error).toMatchObject({ status: 400, code: 'invalid_phone_number' });
    expect(logLines).toHaveLength(0);
  });
});
