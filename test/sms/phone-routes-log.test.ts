// Phone verification with no Vonage variables: the development provider writes each code to the
// server log, and the API behaves as it does with Vonage.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { describeEachDatabase } from '../helpers/databases.js';
import { captureLog, type LogEntry } from '../helpers/log.js';
import { checkCode, otherCode, phoneVerified, registerWithPhone, startVerification, uniquePhoneNumber, type PhoneUser } from './phone-client.js';

describeEachDatabase('phone verification without Vonage (codes in the server log)', (database) => {
  const log = captureLog();
  let app: TestApp;
  let url: string;
  let now = Date.parse('2030-01-01T00:00:00Z');

  beforeAll(async () => {
    app = await startTestApp({ database, logger: log.logger, clock: () => now });
    url = app.url;
  });
  afterAll(() => app.destroy());

  const entries = (): LogEntry[] => log.entries();

  /** The code the server logged for a verification, as a developer reads it from the log. */
  function loggedCode(requestId: string): string {
    const entry = entries().find((candidate) => candidate.request_id === requestId && typeof candidate.code === 'string');
    if (!entry) throw new Error(`no code logged for ${requestId}`);
    return entry.code as string;
  }

  async function startedUser(): Promise<{ user: PhoneUser; phoneNumber: string; requestId: string }> {
    const phoneNumber = uniquePhoneNumber();
    const user = await registerWithPhone(url, phoneNumber);
    const started = await startVerification(url, user);
    expect(started.status).toBe(202);
    return { user, phoneNumber, requestId: started.body.request_id };
  }

  it('says at start that codes go to the log because no Vonage credentials are set', () => {
    expect(entries()).toContainEqual(expect.objectContaining({ level: 40, msg: expect.stringMatching(/VONAGE_API_KEY and VONAGE_API_SECRET are not set/) }));
  });

  it('writes the code to the log, and the code verifies the number', async () => {
    const { user, phoneNumber, requestId } = await startedUser();

    const entry = entries().find((candidate) => candidate.request_id === requestId && 'code' in candidate)!;
    expect(entry).toMatchObject({ level: 40, sms_provider: 'log', phone_number: phoneNumber, code: expect.stringMatching(/^[0-9]{6}$/) });
    expect(entry.msg).toMatch(/logged instead of sent/);

    const wrong = await checkCode(url, user, otherCode(loggedCode(requestId)));
    expect(wrong.status).toBe(400);
    expect(wrong.body).toMatchObject({ code: 'invalid_code', attempts_left: 2 });
    const checked = await checkCode(url, user, loggedCode(requestId));
    expect(checked.status).toBe(200);
    expect(checked.body).toEqual({ message: 'Phone number verified' });
    expect(await phoneVerified(url, user)).toBe(true);
  });

  it('answers a repeated start with the code already logged', async () => {
    const { user, phoneNumber, requestId } = await startedUser();
    const again = await startVerification(url, user);
    expect(again.status).toBe(202);
    expect(again.body.request_id).toBe(requestId);
    expect(entries().filter((candidate) => 'code' in candidate && candidate.phone_number === phoneNumber)).toHaveLength(1);
    expect((await checkCode(url, user, loggedCode(requestId))).status).toBe(200);
  });

  it('voids the verification after 3 wrong codes with 429', async () => {
    const { user, requestId } = await startedUser();
    const wrong = otherCode(loggedCode(requestId));
    await checkCode(url, user, wrong);
    await checkCode(url, user, wrong);

    const third = await checkCode(url, user, wrong);
    expect(third.status).toBe(429);
    expect(third.body.code).toBe('rate_limited');
    expect((await checkCode(url, user, loggedCode(requestId))).body.code).toBe('no_pending_verification');
    expect(await phoneVerified(url, user)).toBe(false);
  });

  it('answers 400 verification_expired after a restart, since logged codes live in memory', async () => {
    const { user, requestId } = await startedUser();
    app = await app.restart();
    url = app.url;

    const checked = await checkCode(url, user, loggedCode(requestId));
    expect(checked.status).toBe(400);
    expect(checked.body.code).toBe('verification_expired');
    const again = await startVerification(url, user);
    expect(again.status).toBe(202);
    expect((await checkCode(url, user, loggedCode(again.body.request_id))).status).toBe(200);
  });

  it("takes over another account's code of the same number after 30 seconds, and voids that code", async () => {
    const { user: mallory, phoneNumber, requestId: malloryRequestId } = await startedUser();
    const owner = await registerWithPhone(url, phoneNumber);

    now += 10_000;
    const refused = await startVerification(url, owner);
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('verification_in_progress');
    expect(Number(refused.headers.get('retry-after'))).toBe(20);

    now += 20_000;
    const started = await startVerification(url, owner);
    expect(started.status).toBe(202);
    const malloryCheck = await checkCode(url, mallory, loggedCode(malloryRequestId));
    expect(malloryCheck.status).toBe(400);
    expect(malloryCheck.body.code).toBe('verification_expired');
    expect((await checkCode(url, owner, loggedCode(started.body.request_id))).status).toBe(200);
    expect(await phoneVerified(url, mallory)).toBe(false);
  });
});
