// Phone verification across two instances sharing one PostgreSQL database: the database, not
// process memory, decides which start sends the SMS.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { createPostgresSchema, postgresUrl, type TestDatabase } from '../helpers/databases.js';
import { startFakeVonage, type FakeVonage } from '../helpers/fake-vonage.js';
import { checkCode, registerWithPhone, startVerification, uniquePhoneNumber, vonageEnvironment } from './phone-client.js';

const title = postgresUrl ? 'phone verification on two instances' : 'phone verification on two instances (skipped: set TEST_DATABASE_URL to run)';

describe.skipIf(!postgresUrl)(title, () => {
  let fake: FakeVonage;
  let shared: TestDatabase;
  let instances: TestApp[];
  let now = Date.parse('2030-01-01T00:00:00Z');

  beforeAll(async () => {
    fake = await startFakeVonage();
    shared = await createPostgresSchema();
    // Behind a trusted proxy each user asks from an address of its own, so per-address limits stay out of the way.
    const env = { ...vonageEnvironment(fake, { TRUST_PROXY: '1' }), DATABASE_URL: shared.url };
    // One after the other, so the second finds the schema already migrated.
    instances = [await startTestApp({ env, clock: () => now }), await startTestApp({ env, clock: () => now })];
  });
  afterAll(async () => {
    await Promise.all(instances.map((instance) => instance.destroy()));
    await shared.drop();
    await fake.close();
  });

  it('sends one SMS when both instances are asked to start at once', async () => {
    for (let round = 0; round < 5; round += 1) {
      const phoneNumber = uniquePhoneNumber();
      const user = await registerWithPhone(instances[0]!.url, phoneNumber);

      const answers = await Promise.all(instances.map((instance) => startVerification(instance.url, user)));

      expect(fake.sent.filter((sms) => sms.to === phoneNumber.slice(1))).toHaveLength(1);
      const requestId = fake.sent.findLast((sms) => sms.to === phoneNumber.slice(1))!.requestId;
      for (const answer of answers) {
        // The later one either reuses the code just sent, or is told a code is on its way.
        if (answer.status === 202) expect(answer.body.request_id).toBe(requestId);
        else expect(answer.body.code).toBe('verification_in_progress');
      }
      expect(answers.some((answer) => answer.status === 202)).toBe(true);
      expect((await checkCode(instances[1]!.url, user, fake.lastCode(phoneNumber))).status).toBe(200);
    }
  });

  it("sends one SMS when two accounts on two instances take over a third account's code at once", async () => {
    for (let round = 0; round < 5; round += 1) {
      const phoneNumber = uniquePhoneNumber();
      const [mallory, owner, other] = [
        await registerWithPhone(instances[0]!.url, phoneNumber),
        await registerWithPhone(instances[0]!.url, phoneNumber),
        await registerWithPhone(instances[0]!.url, phoneNumber),
      ];
      expect((await startVerification(instances[0]!.url, mallory)).status).toBe(202);
      const malloryCode = fake.lastCode(phoneNumber)!;
      now += 30_000;

      const answers = await Promise.all([startVerification(instances[0]!.url, owner), startVerification(instances[1]!.url, other)]);

      expect(answers.map((answer) => answer.status).sort()).toEqual([202, 409]);
      expect(fake.sent.filter((sms) => sms.to === phoneNumber.slice(1))).toHaveLength(2);
      const winner = answers[0]!.status === 202 ? owner : other;
      expect((await checkCode(instances[1]!.url, mallory, malloryCode)).body.code).toBe('verification_expired');
      expect((await checkCode(instances[1]!.url, winner, fake.lastCode(phoneNumber))).status).toBe(200);
    }
  });
});
