// Phone verification when Vonage fails: every failure is a clear error for the user, leaves no
// verification half recorded, and is logged without the secret.
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { VonageVerifier } from '../../src/sms/vonage.js';
import { startTestApp, type TestApp, type TestAppOptions } from '../helpers/app.js';
import { describeEachDatabase, type DatabaseKind } from '../helpers/databases.js';
import { startFakeVonage, type FakeVonage } from '../helpers/fake-vonage.js';
import { freePort } from '../helpers/ports.js';
import { checkCode, otherCode, phoneVerified, registerWithPhone, startVerification, uniquePhoneNumber, vonageEnvironment } from './phone-client.js';

const rejectedNumber = uniquePhoneNumber();

/** Starts an app for one test and always closes it. */
async function withApp(database: DatabaseKind, options: TestAppOptions, test: (app: TestApp) => Promise<void>): Promise<void> {
  const app = await startTestApp({ database, ...options });
  try {
    await test(app);
  } finally {
    await app.destroy();
  }
}

function memoryLog(): { lines: string[]; logger: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, logger: createLogger({ level: 'debug', format: 'json' }, stream) };
}

describeEachDatabase('phone verification when Vonage fails', (database) => {
  let fake: FakeVonage;
  let app: TestApp;
  let url: string;

  beforeAll(async () => {
    fake = await startFakeVonage({ invalidNumbers: [rejectedNumber.slice(1)] });
    app = await startTestApp({ database, env: vonageEnvironment(fake) });
    url = app.url;
  });
  afterAll(async () => {
    await app.destroy();
    await fake.close();
  });

  async function expectNothingPending(user: Awaited<ReturnType<typeof registerWithPhone>>): Promise<void> {
    const checked = await checkCode(url, user, '123456');
    expect(checked.status).toBe(400);
    expect(checked.body.code).toBe('no_pending_verification');
  }

  it('answers 503 sms_unavailable to a Vonage 5xx, records nothing, and the next start works', async () => {
    const phoneNumber = uniquePhoneNumber();
    const user = await registerWithPhone(url, phoneNumber);
    fake.failNext({ status: 500, body: { type: 'https://developer.vonage.com/api-errors#internal', title: 'Internal Error', detail: 'Something went wrong.' } });

    const failed = await startVerification(url, user);
    expect(failed.status).toBe(503);
    expect(failed.body).toEqual({ code: 'sms_unavailable', detail: 'The SMS provider is unavailable right now. Try again in a few minutes.' });
    await expectNothingPending(user);

    const started = await startVerification(url, user);
    expect(started.status).toBe(202);
    expect((await checkCode(url, user, fake.lastCode(phoneNumber))).status).toBe(200);
  });

  it('answers 503 to a check Vonage cannot answer, and keeps the verification open', async () => {
    const phoneNumber = uniquePhoneNumber();
    const user = await registerWithPhone(url, phoneNumber);
    await startVerification(url, user);
    fake.failNext({ status: 503, body: '<html>Service Unavailable</html>', contentType: 'text/html' });

    const failed = await checkCode(url, user, fake.lastCode(phoneNumber));
    expect(failed.status).toBe(503);
    expect(failed.body.code).toBe('sms_unavailable');
    expect(await phoneVerified(url, user)).toBe(false);

    // Neither a wrong code nor a try was counted against the user.
    expect((await checkCode(url, user, otherCode(fake.lastCode(phoneNumber)!))).body.attempts_left).toBe(2);
    expect((await checkCode(url, user, fake.lastCode(phoneNumber))).status).toBe(200);
  });

  it("answers 503 to an error status such as Vonage's own rate limit", async () => {
    const user = await registerWithPhone(url, uniquePhoneNumber());
    fake.failNext({ status: 429, body: { type: 'https://www.developer.vonage.com/api-errors#throttled', title: 'Rate Limit Hit', detail: 'Please wait, then retry your request' } });

    const failed = await startVerification(url, user);
    expect(failed.status).toBe(503);
    expect(failed.body.code).toBe('sms_unavailable');
    await expectNothingPending(user);
  });

  it("answers 400 invalid_phone_number with Vonage's reason when Vonage rejects the number", async () => {
    const user = await registerWithPhone(url, rejectedNumber);

    const refused = await startVerification(url, user);
    expect(refused.status).toBe(400);
    expect(refused.body.code).toBe('invalid_phone_number');
    expect(refused.body.detail).toBe('The SMS provider rejected this phone number: `to` Phone number is invalid');
    await expectNothingPending(user);
  });

  it('answers 503 when Vonage refuses the API key and secret', async () => {
    await withApp(database, { env: vonageEnvironment(fake, { VONAGE_API_SECRET: 'not-the-secret' }) }, async (misconfigured) => {
      const user = await registerWithPhone(misconfigured.url, uniquePhoneNumber());
      const failed = await startVerification(misconfigured.url, user);
      expect(failed.status).toBe(503);
      expect(failed.body.code).toBe('sms_unavailable');
      expect(fake.requests.at(-1)).toMatchObject({ path: '/v2/verify', authorization: `Basic ${Buffer.from(`${fake.apiKey}:not-the-secret`).toString('base64')}` });
    });
  });

  it('answers 503 when Vonage cannot be reached', async () => {
    const closedPort = await freePort();
    await withApp(database, { env: vonageEnvironment(fake, { VONAGE_API_URL: `http://127.0.0.1:${closedPort}` }) }, async (unreachable) => {
      const user = await registerWithPhone(unreachable.url, uniquePhoneNumber());
      const failed = await startVerification(unreachable.url, user);
      expect(failed.status).toBe(503);
      expect(failed.body).toEqual({ code: 'sms_unavailable', detail: 'The SMS provider could not be reached. Try again in a few minutes.' });
    });
  });

  it('answers 503 when Vonage does not answer in time, and the next start works', async () => {
    // The configured client waits 5 s; this one, built the same way, waits 300 ms to keep the suite fast.
    const smsVerifier = new VonageVerifier({ apiKey: fake.apiKey, apiSecret: fake.apiSecret, brand: 'RealChat', apiUrl: fake.url, timeoutMs: 300, logger: pino({ level: 'silent' }) });
    await withApp(database, { env: vonageEnvironment(fake), smsVerifier }, async (slow) => {
      const phoneNumber = uniquePhoneNumber();
      const user = await registerWithPhone(slow.url, phoneNumber);
      fake.failNext({ hang: true });

      const failed = await startVerification(slow.url, user);
      expect(failed.status).toBe(503);
      expect(failed.body).toEqual({ code: 'sms_unavailable', detail: 'The SMS provider did not answer in time. Try again in a few minutes.' });
      expect((await checkCode(slow.url, user, '123456')).body.code).toBe('no_pending_verification');
      expect((await startVerification(slow.url, user)).status).toBe(202);
      expect((await checkCode(slow.url, user, fake.lastCode(phoneNumber))).status).toBe(200);
    });
  });

  describe('the log', () => {
    it('records each failure with its reason and never the secret, the credentials header or a code', async () => {
      const secret = `secret-${randomBytes(12).toString('hex')}`;
      const wrongSecret = `${secret}-wrong`;
      const ownFake = await startFakeVonage({ apiSecret: secret });
      const { lines, logger } = memoryLog();
      try {
        await withApp(database, { env: vonageEnvironment(ownFake), logger }, async (logged) => {
          const phoneNumber = uniquePhoneNumber();
          const user = await registerWithPhone(logged.url, phoneNumber);
          await startVerification(logged.url, user);
          await checkCode(logged.url, user, otherCode(ownFake.lastCode(phoneNumber)!));
          ownFake.failNext({ status: 500, body: { title: 'Internal Error', detail: 'Something went wrong.' } });
          expect((await checkCode(logged.url, user, ownFake.lastCode(phoneNumber))).status).toBe(503);
          expect((await checkCode(logged.url, user, ownFake.lastCode(phoneNumber))).status).toBe(200);
        });
        await withApp(database, { env: vonageEnvironment(ownFake, { VONAGE_API_SECRET: wrongSecret }), logger }, async (misconfigured) => {
          const user = await registerWithPhone(misconfigured.url, uniquePhoneNumber());
          expect((await startVerification(misconfigured.url, user)).status).toBe(503);
        });
      } finally {
        await ownFake.close();
      }

      const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(entries).toContainEqual(expect.objectContaining({ level: 50, operation: 'check', status: 500, title: 'Internal Error', sms_provider: 'vonage' }));
      expect(entries).toContainEqual(
        expect.objectContaining({ level: 50, operation: 'start', status: 401, msg: expect.stringMatching(/check VONAGE_API_KEY and VONAGE_API_SECRET/) }),
      );
      const output = lines.join('\n');
      for (const leak of [secret, wrongSecret, Buffer.from(`${ownFake.apiKey}:${secret}`).toString('base64'), Buffer.from(`${ownFake.apiKey}:${wrongSecret}`).toString('base64')]) {
        expect(output).not.toContain(leak);
      }
      for (const sent of ownFake.sent) expect(output).not.toContain(`"${sent.code}"`);
    });
  });
});
