// SEND_RATE: what one user may send, on every path that sends as a user (JSON and sealed), with
// 429 rate_limited and nothing stored past it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeWireMessage, fernetEncrypt } from '../../src/crypto/fernet.js';
import { decodeKey } from '../../src/crypto/keys.js';
import { SEALED_TYPE } from '../../src/http/sealed-body.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { describeEachDatabase } from '../helpers/databases.js';
import { call, registerUser, type JsonResponse, type RegisteredUser } from '../helpers/http.js';

describeEachDatabase('the send budget', (database) => {
  const send = (app: TestApp, from: RegisteredUser, to: RegisteredUser, message: string, path = '/accounts/send-message/'): Promise<JsonResponse> =>
    call(app.url, 'POST', path, { message, receiver: to.username }, { token: from.token });
  const history = async (app: TestApp, user: RegisteredUser, partner: RegisteredUser): Promise<string[]> => {
    const page = await call(app.url, 'GET', `/accounts/messages/?with=${partner.username}&limit=200`, undefined, { token: user.token });
    return (page.body.results as Array<{ message: string }>).map((message) => message.message).reverse();
  };
  function expectRateLimited(response: JsonResponse): void {
    expect(response.status).toBe(429);
    expect(response.body.code).toBe('rate_limited');
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  }

  describe('at SEND_RATE=2/s (bursts of 10)', () => {
    let app: TestApp;
    beforeAll(async () => {
      app = await startTestApp({ database, env: { SEND_RATE: '2/s' } });
    });
    afterAll(() => app.destroy());

    it('refuses a user’s sends past the burst with 429 rate_limited and Retry-After, storing nothing', async () => {
      const [alice, bob, carol] = await Promise.all([registerUser(app.url), registerUser(app.url), registerUser(app.url)]);
      for (let i = 0; i < 10; i++) expect((await send(app, alice, bob, `m${i}`)).status).toBe(201);
      expectRateLimited(await send(app, alice, bob, 'one too many'));
      expectRateLimited(await send(app, alice, carol, 'to someone else', '/accounts/messages/'));
      expect(await history(app, alice, bob)).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`));
      expect(await history(app, alice, carol)).toEqual([]);
      // The budget is the user's: others still send.
      expect((await send(app, bob, alice, 'hello')).status).toBe(201);
    });

    it('counts sealed sends on /accounts/messages/ too', async () => {
      const [alice, bob] = await Promise.all([registerUser(app.url), registerUser(app.url)]);
      const key = decodeKey(app.env.ENCRYPTION_KEY!);
      const sealed = (message: string) =>
        call(app.url, 'POST', '/accounts/messages/', undefined, {
          token: alice.token,
          headers: { 'content-type': SEALED_TYPE },
          raw: encodeWireMessage(fernetEncrypt(key, JSON.stringify({ message, receiver: bob.username }), { now: Math.floor(Date.now() / 1000) })),
        });
      for (let i = 0; i < 10; i++) expect((await sealed(`s${i}`)).status).toBe(201);
      expectRateLimited(await sealed('one too many'));
      expect(await history(app, bob, alice)).toHaveLength(10);
    });
  });

  describe('with the default SEND_RATE (20/s, bursts of 100)', () => {
    let app: TestApp;
    beforeAll(async () => {
      app = await startTestApp({ database });
    });
    afterAll(() => app.destroy());

    it('lets a burst of 100 through and refuses the next', async () => {
      const [alice, bob] = await Promise.all([registerUser(app.url), registerUser(app.url)]);
      const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => send(app, alice, bob, `b${i}`)));
      expect(answers.map((answer) => answer.status)).toEqual(Array.from({ length: 100 }, () => 201));
      expectRateLimited(await send(app, alice, bob, 'one too many'));
    });
  });
});
