// VonageVerifier against a local fake of Vonage Verify v2: the flow, every outcome and every failure.
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BadRequest, ServiceUnavailable } from '../../src/http/errors.js';
import { VerificationInProgress } from '../../src/sms/provider.js';
import { VonageVerifier } from '../../src/sms/vonage.js';
import { startFakeVonage, type FakeVonage } from '../helpers/fake-vonage.js';

const phone = '+447700900123';

let fake: FakeVonage;
let logLines: string[];

function verifier(overrides: { apiSecret?: string; timeoutMs?: number; apiUrl?: string } = {}): VonageVerifier {
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });
  return new VonageVerifier({
    apiKey: fake.apiKey,
    apiSecret: overrides.apiSecret ?? fake.apiSecret,
    brand: 'RealChat',
    apiUrl: overrides.apiUrl ?? fake.url,
    timeoutMs: overrides.timeoutMs ?? 2_000,
    logger,
  });
}

function logEntries(): Record<string, unknown>[] {
  return logLines.map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** A well-formed code that differs from the one Vonage sent. */
function wrongCode(): string {
  return fake.lastCode(phone) === '000000' ? '111111' : '000000';
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

async function expectSmsUnavailable(promise: Promise<unknown>): Promise<ServiceUnavailable> {
  const error = await rejection(promise);
  expect(error).toBeInstanceOf(ServiceUnavailable);
  expect(error).toMatchObject({ status: 503, code: 'sms_unavailable' });
  return error as ServiceUnavailable;
}

beforeEach(async () => {
  fake = await startFakeVonage();
  logLines = [];
});

afterEach(async () => {
  await fake.close();
});

describe('VonageVerifier', () => {
  it('sends an SMS code through Verify v2 with the brand, and verifies it', async () => {
    const sms = verifier();

    const { requestId } = await sms.start(phone);

    expect(fake.requests[0]).toMatchObject({
      method: 'POST',
      path: '/v2/verify',
      authorization: `Basic ${Buffer.from(`${fake.apiKey}:${fake.apiSecret}`).toString('base64')}`,
      contentType: 'application/json',
      body: { brand: 'RealChat', code_length: 6, workflow: [{ channel: 'sms', to: '447700900123' }] },
    });
    expect(fake.sent).toEqual([{ requestId, to: '447700900123', brand: 'RealChat', code: expect.stringMatching(/^[0-9]{6}$/) }]);

    expect(await sms.check(requestId, fake.lastCode(phone)!)).toBe('verified');
    expect(fake.requests[1]).toMatchObject({ method: 'POST', path: `/v2/verify/${requestId}`, body: { code: fake.lastCode(phone) } });
    // Vonage forgets a verified request: checking it again means starting over.
    expect(await sms.check(requestId, fake.lastCode(phone)!)).toBe('expired');
  });

  it('answers invalid_code to a wrong code and still accepts the right one', async () => {
    const sms = verifier();
    const { requestId } = await sms.start(phone);
    const wrong = wrongCode();

    expect(await sms.check(requestId, wrong)).toBe('invalid_code');
    expect(await sms.check(requestId, fake.lastCode(phone)!)).toBe('verified');
  });

  it('answers invalid_code to a malformed code without spending one of Vonage\'s attempts', async () => {
    const sms = verifier();
    const { requestId } = await sms.start(phone);

    expect(await sms.check(requestId, '12ab')).toBe('invalid_code');
    expect(fake.requests).toHaveLength(1);
  });

  it('answers too_many_attempts when Vonage ends the workflow after too many wrong codes', async () => {
    const sms = verifier();
    const { requestId } = await sms.start(phone);
    const wrong = wrongCode();

    expect(await sms.check(requestId, wrong)).toBe('invalid_code');
    expect(await sms.check(requestId, wrong)).toBe('invalid_code');
    expect(await sms.check(requestId, wrong)).toBe('too_many_attempts');
    expect(await sms.check(requestId, fake.lastCode(phone)!)).toBe('expired');
  });

  it('answers expired once the request ran out, and a new code can then be sent', async () => {
    const sms = verifier();
    const { requestId } = await sms.start(phone);
    fake.expire(requestId);

    expect(await sms.check(requestId, fake.lastCode(phone)!)).toBe('expired');
    const again = await sms.start(phone);
    expect(await sms.check(again.requestId, fake.lastCode(phone)!)).toBe('verified');
  });

  it('reports a pending verification to the same number with its request id, which can be cancelled', async () => {
    const sms = verifier();
    const first = await sms.start(phone);

    const error = await rejection(sms.start(phone));
    expect(error).toBeInstanceOf(VerificationInProgress);
    expect(error).toMatchObject({ status: 409, code: 'verification_in_progress', requestId: first.requestId });

    await sms.cancel(first.requestId);
    expect(fake.requests.at(-1)).toMatchObject({ method: 'DELETE', path: `/v2/verify/${first.requestId}` });
    const second = await sms.start(phone);
    expect(await sms.check(second.requestId, fake.lastCode(phone)!)).toBe('verified');
  });

  it('treats cancelling a request that already ended as done', async () => {
    const sms = verifier();
    const { requestId } = await sms.start(phone);
    await sms.check(requestId, fake.lastCode(phone)!);

    await expect(sms.cancel(requestId)).resolves.toBeUndefined();
  });

  it('recovers from a start whose answer was lost: the next start names the pending request', async () => {
    const sms = verifier();
    fake.failNext({ dropResponse: true });
    await expectSmsUnavailable(sms.start(phone));

    const error = await rejection(sms.start(phone));
    expect(error).toBeInstanceOf(VerificationInProgress);
    const pendingId = (error as VerificationInProgress).requestId!;
    expect(pendingId).toBe(fake.sent[0]!.requestId);
    expect(await sms.check(pendingId, fake.lastCode(phone)!)).toBe('verified');
  });

  it('refuses a number that is not E.164 without calling Vonage', async () => {
    const error = await rejection(verifier().start('07700 900123'));

    expect(error).toBeInstanceOf(BadRequest);
    expect(error).toMatchObject({ status: 400, code: 'invalid_phone_number' });
    expect(fake.requests).toHaveLength(0);
  });

  it('answers 400 invalid_phone_number with Vonage\'s reason when Vonage rejects the number', async () => {
    await fake.close();
    fake = await startFakeVonage({ invalidNumbers: ['447700900999'] });

    const error = await rejection(verifier().start('+447700900999'));

    expect(error).toBeInstanceOf(BadRequest);
    expect(error).toMatchObject({ status: 400, code: 'invalid_phone_number' });
    expect((error as BadRequest).detail).toContain('`to` Phone number is invalid');
  });

  it('treats a brand Vonage refuses as our misconfiguration, not the user\'s number', async () => {
    const logger = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });
    const sms = new VonageVerifier({ apiKey: fake.apiKey, apiSecret: fake.apiSecret, brand: 'Real{Chat}', apiUrl: fake.url, timeoutMs: 2_000, logger });

    await expectSmsUnavailable(sms.start(phone));
    expect(logEntries().at(-1)).toMatchObject({ level: 50, status: 422, title: 'Invalid params' });
  });

  it('accepts VONAGE_API_URL with a trailing slash', async () => {
    const { requestId } = await verifier({ apiUrl: `${fake.url}/` }).start(phone);

    expect(fake.requests[0]!.path).toBe('/v2/verify');
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  describe('when Vonage fails, answers 503 sms_unavailable and logs why', () => {
    it('on a timeout', async () => {
      const sms = verifier({ timeoutMs: 200 });
      fake.failNext({ hang: true });

      const error = await expectSmsUnavailable(sms.start(phone));
      expect(error.detail).toMatch(/did not answer in time/);
      expect(logEntries().at(-1)).toMatchObject({ level: 50, operation: 'start', reason: 'timeout', timeout_ms: 200 });
    });

    it('on a 5xx', async () => {
      const sms = verifier();
      fake.failNext({ status: 500, body: { type: 'https://developer.vonage.com/api-errors#internal', title: 'Internal Error', detail: 'Something went wrong.', instance: 'a1' } });
      await expectSmsUnavailable(sms.start(phone));
      expect(logEntries().at(-1)).toMatchObject({ status: 500, title: 'Internal Error', detail: 'Something went wrong.', instance: 'a1' });

      const { requestId } = await sms.start(phone);
      fake.failNext({ status: 503, body: '<html>Service Unavailable</html>', contentType: 'text/html' });
      await expectSmsUnavailable(sms.check(requestId, '123456'));
      expect(logEntries().at(-1)).toMatchObject({ operation: 'check', status: 503 });
    });

    it('on an error status such as Vonage\'s own rate limit', async () => {
      const sms = verifier();
      fake.failNext({ status: 429, body: { type: 'https://www.developer.vonage.com/api-errors#throttled', title: 'Rate Limit Hit', detail: 'Please wait, then retry your request', instance: 'b2' } });

      await expectSmsUnavailable(sms.start(phone));
      expect(logEntries().at(-1)).toMatchObject({ status: 429, title: 'Rate Limit Hit' });
    });

    it('on a cancel Vonage cannot perform', async () => {
      const sms = verifier();
      const { requestId } = await sms.start(phone);
      fake.failNext({ status: 500 });

      await expectSmsUnavailable(sms.cancel(requestId));
      expect(logEntries().at(-1)).toMatchObject({ operation: 'cancel', status: 500 });
    });

    it('on bad credentials', async () => {
      const sms = verifier({ apiSecret: 'not-the-secret' });

      await expectSmsUnavailable(sms.start(phone));
      const entry = logEntries().at(-1)!;
      expect(entry).toMatchObject({ status: 401, title: 'Unauthorized', detail: 'You did not provide correct credentials.' });
      expect(entry.msg).toMatch(/VONAGE_API_KEY and VONAGE_API_SECRET/);
    });

    it('when Vonage cannot be reached', async () => {
      // The replacement fake starts first, so the closed one's port cannot be handed back to it.
      const gone = fake;
      fake = await startFakeVonage();
      await gone.close();
      const sms = verifier({ apiUrl: gone.url });

      const error = await expectSmsUnavailable(sms.start(phone));
      expect(error.detail).toMatch(/could not be reached/);
      expect(logEntries().at(-1)).toMatchObject({ operation: 'start', reason: expect.stringMatching(/ECONNREFUSED/) });
    });

    it('on an answer it does not understand', async () => {
      const sms = verifier();
      fake.failNext({ status: 202, body: { unexpected: true }, contentType: 'application/json' });

      await expectSmsUnavailable(sms.start(phone));
    });
  });

  it('never writes the secret, the credentials header or a code to the log', async () => {
    const secret = 'very-secret-value-42';
    await fake.close();
    fake = await startFakeVonage({ apiSecret: secret });
    const sms = verifier();
    const wrongSecret = verifier({ apiSecret: `${secret}-wrong` });

    const { requestId } = await sms.start(phone);
    await sms.check(requestId, wrongCode());
    await expectSmsUnavailable(wrongSecret.start(phone));
    fake.failNext({ status: 500 });
    await expectSmsUnavailable(sms.check(requestId, fake.lastCode(phone)!));
    fake.failNext({ hang: true });
    await expectSmsUnavailable(verifier({ timeoutMs: 100 }).check(requestId, fake.lastCode(phone)!));
    await sms.check(requestId, fake.lastCode(phone)!);

    const output = logLines.join('');
    expect(logLines.length).toBeGreaterThan(2);
    expect(output).not.toContain(secret);
    expect(output).not.toContain(Buffer.from(`${fake.apiKey}:${secret}`).toString('base64'));
    expect(output).not.toContain(fake.lastCode(phone));
  });
});
