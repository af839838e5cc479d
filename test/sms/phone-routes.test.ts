// Phone verification over HTTP, against a real app whose VONAGE_API_URL points at the local fake
// of Vonage Verify v2: the flow, wrong and expired codes, resends, number changes and limits.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { describeEachDatabase } from '../helpers/databases.js';
import { startFakeVonage, type FakeVonage, type ReceivedRequest } from '../helpers/fake-vonage.js';
import { call } from '../helpers/http.js';
import {
  changePhoneNumber,
  checkCode,
  otherCode,
  phoneVerified,
  registerWithPhone,
  startVerification,
  uniquePhoneNumber,
  vonageEnvironment,
  type PhoneUser,
} from './phone-client.js';

describeEachDatabase('phone verification through Vonage', (database) => {
  let fake: FakeVonage;
  let app: TestApp;
  let url: string;
  let now = Date.parse('2030-01-01T00:00:00Z');

  beforeAll(async () => {
    // Vonage allows more wrong codes than RealChat does, so RealChat's own limit is what these tests see.
    fake = await startFakeVonage({ maxWrongCodes: 5 });
    app = await startTestApp({ database, env: vonageEnvironment(fake, { TRUST_PROXY: '1' }), clock: () => now });
    url = app.url;
  });
  afterAll(async () => {
    await app.destroy();
    await fake.close();
  });

  /** What `action` returned, and the requests the fake received while it ran. */
  async function during<T>(action: () => Promise<T>): Promise<{ result: T; requests: ReceivedRequest[] }> {
    const before = fake.requests.length;
    const result = await action();
    return { result, requests: fake.requests.slice(before) };
  }

  /** `METHOD /path` of each request the fake received while `action` ran. */
  async function vonageCallsDuring(action: () => Promise<unknown>): Promise<string[]> {
    return callsOf((await during(action)).requests);
  }

  async function userWithNumber(): Promise<PhoneUser & { phoneNumber: string }> {
    const phoneNumber = uniquePhoneNumber();
    return { ...(await registerWithPhone(url, phoneNumber)), phoneNumber };
  }

  it('sends a code through Vonage Verify v2 with the brand, and marks the number verified with it', async () => {
    const user = await userWithNumber();
    expect(await phoneVerified(url, user)).toBe(false);

    const { result: started, requests } = await during(() => startVerification(url, user));

    expect(started.status).toBe(202);
    expect(started.body).toEqual({ message: 'Verification code sent', request_id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect(fake.sent.at(-1)).toMatchObject({ requestId: started.body.request_id, to: user.phoneNumber.slice(1), brand: 'RealChat' });
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({
      method: 'POST',
      path: '/v2/verify',
      authorization: `Basic ${Buffer.from(`${fake.apiKey}:${fake.apiSecret}`).toString('base64')}`,
      contentType: 'application/json',
      body: { brand: 'RealChat', code_length: 6, workflow: [{ channel: 'sms', to: user.phoneNumber.slice(1) }] },
    });

    const checked = await checkCode(url, user, fake.lastCode(user.phoneNumber));
    expect(checked.status).toBe(200);
    expect(checked.body).toEqual({ message: 'Phone number verified' });
    expect(await phoneVerified(url, user)).toBe(true);
  });

  it('answers 409 phone_already_verified to a start or a check once the number is verified', async () => {
    const user = await userWithNumber();
    await startVerification(url, user);
    await checkCode(url, user, fake.lastCode(user.phoneNumber));

    const calls = await vonageCallsDuring(async () => {
      const again = await startVerification(url, user);
      expect(again.status).toBe(409);
      expect(again.body.code).toBe('phone_already_verified');
      const checkAgain = await checkCode(url, user, fake.lastCode(user.phoneNumber));
      expect(checkAgain.status).toBe(409);
      expect(checkAgain.body.code).toBe('phone_already_verified');
    });
    expect(calls).toEqual([]);
  });

  it('answers 400 invalid_code to a wrong code and keeps the verification open', async () => {
    const user = await userWithNumber();
    await startVerification(url, user);
    const code = fake.lastCode(user.phoneNumber)!;

    const wrong = await checkCode(url, user, otherCode(code));
    expect(wrong.status).toBe(400);
    expect(wrong.body).toEqual({ detail: 'The code is not correct. 2 attempts left.', code: 'invalid_code', attempts_left: 2 });
    expect(await phoneVerified(url, user)).toBe(false);

    expect((await checkCode(url, user, code)).status).toBe(200);
    expect(await phoneVerified(url, user)).toBe(true);
  });

  it('voids the verification after 3 wrong codes: 429 rate_limited, and cancelled at Vonage', async () => {
    const user = await userWithNumber();
    const { body } = await startVerification(url, user);
    const code = fake.lastCode(user.phoneNumber)!;

    expect((await checkCode(url, user, otherCode(code))).body.attempts_left).toBe(2);
    expect((await checkCode(url, user, otherCode(code))).body.attempts_left).toBe(1);
    const { result: third, requests } = await during(() => checkCode(url, user, otherCode(code)));
    expect(third.status).toBe(429);
    expect(callsOf(requests)).toEqual([`POST /v2/verify/${body.request_id}`, `DELETE /v2/verify/${body.request_id}`]);

    // Void here and at Vonage: the right code typed next is refused and no longer reaches Vonage.
    const { result: late, requests: lateRequests } = await during(() => checkCode(url, user, code));
    expect(late.status).toBe(400);
    expect(late.body.code).toBe('no_pending_verification');
    expect(lateRequests).toEqual([]);
    expect(await phoneVerified(url, user)).toBe(false);
  });

  it('answers the voiding wrong code itself with 429 and Retry-After', async () => {
    const user = await userWithNumber();
    await startVerification(url, user);
    const wrong = otherCode(fake.lastCode(user.phoneNumber)!);
    await checkCode(url, user, wrong);
    await checkCode(url, user, wrong);

    const third = await checkCode(url, user, wrong);
    expect(third.status).toBe(429);
    expect(third.body.code).toBe('rate_limited');
    expect(third.body.detail).toMatch(/Request a new one/);
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);

    // A new code can be requested at once, and it works.
    expect((await startVerification(url, user)).status).toBe(202);
    expect((await checkCode(url, user, fake.lastCode(user.phoneNumber))).status).toBe(200);
  });

  it('answers 429 when Vonage ends the verification itself after wrong codes', async () => {
    const user = await userWithNumber();
    await startVerification(url, user);
    fake.failNext({
      status: 410,
      body: { type: 'https://developer.vonage.com/api-errors#gone', title: 'Invalid Code', detail: 'An incorrect code has been provided too many times. Workflow terminated.' },
    });

    const checked = await checkCode(url, user, otherCode(fake.lastCode(user.phoneNumber)!));
    expect(checked.status).toBe(429);
    expect(checked.body.code).toBe('rate_limited');
    expect((await checkCode(url, user, fake.lastCode(user.phoneNumber))).body.code).toBe('no_pending_verification');
  });

  it('answers 400 verification_expired when Vonage let the request expire, then sends a new code', async () => {
    const user = await userWithNumber();
    const first = await startVerification(url, user);
    fake.expire(first.body.request_id);

    const checked = await checkCode(url, user, fake.lastCode(user.phoneNumber));
    expect(checked.status).toBe(400);
    expect(checked.body.code).toBe('verification_expired');

    const second = await startVerification(url, user);
    expect(second.status).toBe(202);
    expect(second.body.request_id).not.toBe(first.body.request_id);
    expect((await checkCode(url, user, fake.lastCode(user.phoneNumber))).status).toBe(200);
  });

  it('answers 400 verification_expired after five minutes without asking Vonage', async () => {
    const user = await userWithNumber();
    await startVerification(url, user);
    now += 5 * 60_000;

    const { result: checked, requests } = await during(() => checkCode(url, user, fake.lastCode(user.phoneNumber)));
    expect(checked.status).toBe(400);
    expect(checked.body.code).toBe('verification_expired');
    expect(requests).toEqual([]);
    expect(await phoneVerified(url, user)).toBe(false);
  });

  it('answers a repeated start with the code already sent, and two parallel starts with one SMS', async () => {
    const user = await userWithNumber();
    const first = await startVerification(url, user);
    const { result: repeated, requests } = await during(() => Promise.all([startVerification(url, user), startVerification(url, user)]));
    const answers = [first, ...repeated];
    const parallelUser = await userWithNumber();
    const parallel = await Promise.all([startVerification(url, parallelUser), startVerification(url, parallelUser), startVerification(url, parallelUser)]);

    expect(requests).toEqual([]);
    expect(new Set(answers.map((answer) => answer.status))).toEqual(new Set([202]));
    expect(new Set(answers.map((answer) => answer.body.request_id)).size).toBe(1);
    expect(parallel.map((answer) => answer.status)).toEqual([202, 202, 202]);
    expect(new Set(parallel.map((answer) => answer.body.request_id)).size).toBe(1);
    expect(fake.sent.filter((sms) => sms.to === parallelUser.phoneNumber.slice(1))).toHaveLength(1);
  });

  it('sends a new code 30 seconds later and cancels the previous one at Vonage', async () => {
    const user = await userWithNumber();
    const first = await startVerification(url, user);
    const firstCode = fake.lastCode(user.phoneNumber)!;
    now += 30_000;

    const { result: second, requests } = await during(() => startVerification(url, user));

    expect(second.status).toBe(202);
    expect(second.body.request_id).not.toBe(first.body.request_id);
    expect(callsOf(requests)).toEqual([`DELETE /v2/verify/${first.body.request_id}`, 'POST /v2/verify']);
    const secondCode = fake.lastCode(user.phoneNumber)!;
    if (secondCode !== firstCode) expect((await checkCode(url, user, firstCode)).body.code).toBe('invalid_code');
    expect((await checkCode(url, user, secondCode)).status).toBe(200);
  });

  it('answers 400 no_phone_number when the profile has no number', async () => {
    const user = await registerWithPhone(url, null);
    const started = await startVerification(url, user);
    expect(started.status).toBe(400);
    expect(started.body.code).toBe('no_phone_number');
  });

  it('answers 400 invalid_phone_number for a number without its country code, without calling Vonage', async () => {
    const user = await registerWithPhone(url, '07700 900123');
    const { result: started, requests } = await during(() => startVerification(url, user));
    expect(started.status).toBe(400);
    expect(started.body.code).toBe('invalid_phone_number');
    expect(started.body.detail).toMatch(/E\.164/);
    expect(requests).toEqual([]);
  });

  it('refuses checks that cannot succeed with clear errors, without calling Vonage', async () => {
    const user = await userWithNumber();
    const calls = await vonageCallsDuring(async () => {
      expect((await checkCode(url, user, '123456')).body.code).toBe('no_pending_verification');
      await startVerification(url, user);
      const before = fake.requests.length;
      const malformed = await checkCode(url, user, '12ab');
      expect(malformed.status).toBe(400);
      expect(malformed.body.code).toBe('invalid_code');
      expect(fake.requests.length).toBe(before);
      const missing = await call(url, 'POST', '/accounts/phone/verify/check/', {}, { token: user.token });
      expect(missing.status).toBe(400);
      expect(missing.body).toMatchObject({ code: 'validation_error', fields: { code: ['This field is required.'] } });
      expect((await call(url, 'POST', '/accounts/phone/verify/', undefined)).status).toBe(401);
      expect((await call(url, 'POST', '/accounts/phone/verify/check/', { code: '123456' })).status).toBe(401);
    });
    expect(calls).toEqual(['POST /v2/verify']);
    // The malformed code cost none of the tries.
    expect((await checkCode(url, user, otherCode(fake.lastCode(user.phoneNumber)!))).body.attempts_left).toBe(2);
  });

  describe('a changed phone number', () => {
    it('is unverified again after PATCH /accounts/me/, unless it is the same number', async () => {
      const user = await userWithNumber();
      await startVerification(url, user);
      await checkCode(url, user, fake.lastCode(user.phoneNumber));

      const same = await changePhoneNumber(url, user, user.phoneNumber);
      expect(same.body.phone_verified).toBe(true);
      const changed = await changePhoneNumber(url, user, uniquePhoneNumber());
      expect(changed.status).toBe(200);
      expect(changed.body.phone_verified).toBe(false);
      expect(await phoneVerified(url, user)).toBe(false);
    });

    it('voids the code sent to the old number: 409 phone_number_changed, cancelled at Vonage', async () => {
      const user = await userWithNumber();
      const started = await startVerification(url, user);
      const oldCode = fake.lastCode(user.phoneNumber);
      const newNumber = uniquePhoneNumber();
      await changePhoneNumber(url, user, newNumber);

      const { result: checked, requests } = await during(() => checkCode(url, user, oldCode));
      expect(checked.status).toBe(409);
      expect(checked.body.code).toBe('phone_number_changed');
      expect(callsOf(requests)).toEqual([`DELETE /v2/verify/${started.body.request_id}`]);
      expect(await phoneVerified(url, user)).toBe(false);

      // The new number gets a code of its own, and that one verifies it.
      expect((await startVerification(url, user)).status).toBe(202);
      expect(fake.sent.at(-1)!.to).toBe(newNumber.slice(1));
      expect((await checkCode(url, user, fake.lastCode(newNumber))).status).toBe(200);
      expect(await call(url, 'GET', '/accounts/me/', undefined, { token: user.token })).toMatchObject({ body: { phone_number: newNumber, phone_verified: true } });
    });

    it('sends a code to the new number at once, cancelling the one sent to the old number', async () => {
      const user = await userWithNumber();
      const first = await startVerification(url, user);
      const newNumber = uniquePhoneNumber();
      await changePhoneNumber(url, user, newNumber);

      const { result: second, requests } = await during(() => startVerification(url, user));
      expect(second.status).toBe(202);
      expect(callsOf(requests)).toEqual([`DELETE /v2/verify/${first.body.request_id}`, 'POST /v2/verify']);
      expect((await checkCode(url, user, fake.lastCode(newNumber))).status).toBe(200);
    });
  });

  it('answers 409 verification_in_progress while another account verifies the same number', async () => {
    const phoneNumber = uniquePhoneNumber();
    const owner = await registerWithPhone(url, phoneNumber);
    const other = await registerWithPhone(url, phoneNumber);
    const started = await startVerification(url, owner);

    const refused = await startVerification(url, other);
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('verification_in_progress');
    expect((await checkCode(url, other, fake.lastCode(phoneNumber))).body.code).toBe('no_pending_verification');

    // The owner's verification is untouched.
    expect(fake.requests.some((request) => request.method === 'DELETE' && request.path === `/v2/verify/${started.body.request_id}`)).toBe(false);
    expect((await checkCode(url, owner, fake.lastCode(phoneNumber))).status).toBe(200);
  });

  it('recovers from a start whose answer was lost: the orphan is cancelled and a new code sent', async () => {
    const user = await userWithNumber();
    fake.failNext({ dropResponse: true });
    const lost = await startVerification(url, user);
    expect(lost.status).toBe(503);
    expect(lost.body.code).toBe('sms_unavailable');
    const orphan = fake.sent.at(-1)!.requestId;

    const started = await startVerification(url, user);
    expect(started.status).toBe(202);
    expect(started.body.request_id).not.toBe(orphan);
    expect(fake.requests.some((request) => request.method === 'DELETE' && request.path === `/v2/verify/${orphan}`)).toBe(true);
    expect((await checkCode(url, user, fake.lastCode(user.phoneNumber))).status).toBe(200);
  });

  describe('another account verifying the same number', () => {
    /** The number's owner and `mallory`, who put the owner's number on her profile and started a code. */
    async function numberTakenByMallory(): Promise<{ phoneNumber: string; owner: PhoneUser; mallory: PhoneUser; malloryRequestId: string }> {
      const phoneNumber = uniquePhoneNumber();
      const owner = await registerWithPhone(url, phoneNumber);
      const mallory = await registerWithPhone(url, phoneNumber);
      const started = await startVerification(url, mallory);
      expect(started.status).toBe(202);
      return { phoneNumber, owner, mallory, malloryRequestId: started.body.request_id };
    }

    it('answers 409 verification_in_progress with Retry-After while its code is younger than 30 seconds', async () => {
      const { phoneNumber, owner, malloryRequestId } = await numberTakenByMallory();
      now += 10_000;

      const { result: refused, requests } = await during(() => startVerification(url, owner));
      expect(refused.status).toBe(409);
      expect(refused.body.code).toBe('verification_in_progress');
      expect(Number(refused.headers.get('retry-after'))).toBe(20);
      expect(requests).toEqual([]);
      expect(fake.sent.filter((sms) => sms.to === phoneNumber.slice(1)).map((sms) => sms.requestId)).toEqual([malloryRequestId]);
    });

    it('takes the number over after 30 seconds: cancels the other code at Vonage and sends a new one', async () => {
      const { phoneNumber, owner, mallory, malloryRequestId } = await numberTakenByMallory();
      const malloryCode = fake.lastCode(phoneNumber)!;
      now += 30_000;

      const { result: started, requests } = await during(() => startVerification(url, owner));
      expect(started.status).toBe(202);
      expect(callsOf(requests)).toEqual([`DELETE /v2/verify/${malloryRequestId}`, 'POST /v2/verify']);

      // Mallory's code is void: her check answers as an expired code does, without asking Vonage.
      const { result: voided, requests: checkRequests } = await during(() => checkCode(url, mallory, malloryCode));
      expect(voided.status).toBe(400);
      expect(voided.body.code).toBe('verification_expired');
      expect(checkRequests).toEqual([]);
      expect(await phoneVerified(url, mallory)).toBe(false);
      expect((await checkCode(url, owner, fake.lastCode(phoneNumber))).status).toBe(200);
    });

    it('never waits for the whole life of a code that the other account keeps renewing', async () => {
      const { phoneNumber, owner } = await numberTakenByMallory();
      now += 20_000;
      const refused = await startVerification(url, owner);
      expect(refused.status).toBe(409);
      const wait = Number(refused.headers.get('retry-after'));
      expect(wait).toBeGreaterThanOrEqual(1);
      expect(wait).toBeLessThanOrEqual(30);

      now += wait * 1000;
      expect((await startVerification(url, owner)).status).toBe(202);
      expect((await checkCode(url, owner, fake.lastCode(phoneNumber))).status).toBe(200);
    });

    it('sends one code when two accounts take the number over at once', async () => {
      const { phoneNumber, mallory } = await numberTakenByMallory();
      const owner = await registerWithPhone(url, phoneNumber);
      const other = await registerWithPhone(url, phoneNumber);
      const sentBefore = fake.sent.length;
      now += 30_000;

      const answers = await Promise.all([startVerification(url, owner), startVerification(url, other)]);

      const [winner, loser] = answers[0]!.status === 202 ? [owner, other] : [other, owner];
      expect(answers.map((answer) => answer.status).sort()).toEqual([202, 409]);
      const refused = answers.find((answer) => answer.status === 409)!;
      expect(refused.body.code).toBe('verification_in_progress');
      expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(30);
      const sent = fake.sent.slice(sentBefore).filter((sms) => sms.to === phoneNumber.slice(1));
      expect(sent.map((sms) => sms.requestId)).toEqual([answers.find((answer) => answer.status === 202)!.body.request_id]);

      // One account has the one live code; the others have none.
      expect((await checkCode(url, mallory, sent[0]!.code)).body.code).toBe('verification_expired');
      expect((await checkCode(url, loser, sent[0]!.code)).body.code).toBe('no_pending_verification');
      expect((await checkCode(url, winner, sent[0]!.code)).status).toBe(200);
    });
  });

  describe('limits', () => {
    it("never lets one account use up the codes of a number it put on its profile", async () => {
      const phoneNumber = uniquePhoneNumber();
      const squatter = await registerWithPhone(url, phoneNumber);
      const owner = await registerWithPhone(url, phoneNumber);
      for (let sent = 0; sent < 5; sent += 1) {
        expect((await startVerification(url, squatter)).status).toBe(202);
        now += 30_000;
      }
      expect((await startVerification(url, squatter)).status).toBe(429);

      // Once the squatter's last code has expired, the owner gets a code and verifies the number.
      now += 5 * 60_000;
      expect((await startVerification(url, owner)).status).toBe(202);
      expect((await checkCode(url, owner, fake.lastCode(phoneNumber))).status).toBe(200);
    });

    it('sends at most 15 codes to one number per hour across accounts', async () => {
      const phoneNumber = uniquePhoneNumber();
      const windowStart = now;
      for (let account = 0; account < 3; account += 1) {
        const user = await registerWithPhone(url, phoneNumber);
        for (let sent = 0; sent < 5; sent += 1) {
          expect((await startVerification(url, user)).status).toBe(202);
          now += 30_000;
        }
        // Each account's last code expires before the next account asks.
        now += 5 * 60_000;
      }
      const late = await registerWithPhone(url, phoneNumber);
      const refused = await startVerification(url, late);
      expect(refused.status).toBe(429);
      expect(refused.body.code).toBe('rate_limited');
      expect(Number(refused.headers.get('retry-after'))).toBe(Math.ceil((windowStart + 3_600_000 - now) / 1000));
      expect(fake.sent.filter((sms) => sms.to === phoneNumber.slice(1))).toHaveLength(15);

      now = windowStart + 3_600_000;
      expect((await startVerification(url, late)).status).toBe(202);
    });

    it('sends at most 10 codes per hour from one client address, whatever the accounts', async () => {
      const address = '192.0.2.77';
      for (let sent = 0; sent < 10; sent += 1) {
        const user = await registerWithPhone(url, uniquePhoneNumber());
        expect((await startVerification(url, user, address)).status).toBe(202);
      }
      const user = await registerWithPhone(url, uniquePhoneNumber());
      const { result: refused, requests } = await during(() => startVerification(url, user, address));
      expect(refused.status).toBe(429);
      expect(requests).toEqual([]);
      expect((await startVerification(url, user)).status).toBe(202);
    });

    it('sends at most 5 codes per hour for one account, whatever its number', async () => {
      const user = await registerWithPhone(url, null);
      for (let sent = 0; sent < 5; sent += 1) {
        await changePhoneNumber(url, user, uniquePhoneNumber());
        expect((await startVerification(url, user)).status).toBe(202);
      }
      await changePhoneNumber(url, user, uniquePhoneNumber());

      const { result: refused, requests } = await during(() => startVerification(url, user));
      expect(refused.status).toBe(429);
      expect(refused.body.code).toBe('rate_limited');
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(3000);
      expect(requests).toEqual([]);
    });
  });
});

function callsOf(requests: ReceivedRequest[]): string[] {
  return requests.map((request) => `${request.method} ${request.path}`);
}
