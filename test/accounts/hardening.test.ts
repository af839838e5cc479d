// Hardening of accounts: bounded password checks, one guess budget per account, no look-alike
// usernames (Unicode TS #39), expired tokens deleted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { similarityRatio, validatePassword } from '../../src/accounts/passwords.js';
import { openDatabase } from '../../src/db/database.js';
import { eventually } from '../federation/peer-requests.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { describeEachDatabase } from '../helpers/databases.js';
import { call, registerUser } from '../helpers/http.js';

const PASSWORD = 'a long and quiet river';
const GUESSES_PER_ACCOUNT = 5;

let registered = 0;

function register(url: string, username: string) {
  registered += 1;
  return call(url, 'POST', '/accounts/register/', { username, email: `named${registered}@example.org`, password: PASSWORD });
}

/** A string over a small alphabet with no long repeats: the worst case for the similarity check. */
function scrambled(length: number, step: number): string {
  return Array.from({ length }, (_, index) => 'abcd'[(index * step) % 4]).join('');
}

describe('the password similarity check', () => {
  it('counts characters as Python does, by code point, outside the Basic Multilingual Plane too', () => {
    // difflib.SequenceMatcher(None, a, b).ratio() in Python: only 𝐞 is common, 2 * 1 / (8 + 6).
    expect(similarityRatio('𝐪𝐰𝐞𝐫𝐭𝐲𝐮𝐢', '𝐚𝐛𝐜𝐝𝐞𝐟')).toBeCloseTo(2 / 14, 10);
    expect(similarityRatio('alice', 'alice1')).toBeCloseTo(10 / 11, 10);
  });

  it('takes a few milliseconds for a crafted password and email', () => {
    validatePassword('warm up the list', {});
    const started = performance.now();
    validatePassword(scrambled(2400, 7919), { username: 'someone', email: `${scrambled(240, 104729)}@example.org` });
    expect(performance.now() - started).toBeLessThan(100);
  });

  it('still refuses a password too similar to the email', () => {
    expect(validatePassword('erin.smith@exam', { email: 'erin.smith@example.org' })).toContain('The password is too similar to the email address.');
  });
});

describeEachDatabase('account hardening', (database) => {
  let app: TestApp;
  let url: string;

  beforeAll(async () => {
    app = await startTestApp({
      database,
      abuseLimits: {
        windowMs: 60_000,
        loginFailuresPerUsername: GUESSES_PER_ACCOUNT,
        loginFailuresPerAddress: 1000,
        registrationsPerAddress: 1000,
        registrationsPerUsername: 10,
      },
    });
    url = app.url;
  });
  afterAll(() => app.destroy());

  describe('passwords', () => {
    it('refuses a new password over 1024 characters', async () => {
      const response = await call(url, 'POST', '/accounts/register/', { username: 'longpass', email: 'longpass@example.org', password: 'x'.repeat(1025) });
      expect(response.status).toBe(400);
      expect(response.body.code).toBe('validation_error');
      expect(Object.keys(response.body.fields)).toEqual(['password']);
    });

    it('checks current_password before any other password rule', async () => {
      const user = await registerUser(url);
      const response = await call(url, 'PATCH', '/accounts/me/', { password: 'short', current_password: 'not the password' }, { token: user.token });
      expect(response.status).toBe(400);
      expect(response.body.fields).toEqual({ current_password: ['The current password is not correct.'] });
    });
  });

  describe('look-alike usernames', () => {
    it('refuses a username that mixes scripts', async () => {
      // A Cyrillic а before Latin letters, Greek with Latin, Cyrillic with Greek.
      for (const name of ['\u0430lice', 'Ελλάda', 'Мария_Ελένη']) {
        const response = await register(url, name);
        expect(response.status, name).toBe(400);
        expect(response.body.code).toBe('validation_error');
        expect(Object.keys(response.body.fields)).toEqual(['username']);
      }
    });

    it('refuses a username that looks like an existing one', async () => {
      for (const [existing, lookalike] of [
        ['lookalike', 'l00kalike'],
        ['ape', '\u0430\u0440\u0435'],
        ['Alicia', 'AIicia'],
        // Cyrillic, with the small palochka: TS #39 maps it to `i`, but it is drawn as an `l`.
        ['paypal', '\u0440\u0430\u0443\u0440\u0430\u04CF'],
      ]) {
        expect((await register(url, existing!)).status).toBe(201);
        const response = await register(url, lookalike!);
        expect(response.status, lookalike).toBe(409);
        expect(response.body.code).toBe('username_taken');
        expect(Object.keys(response.body.fields)).toEqual(['username']);
      }
    });

    it('accepts names written in one script, and Japanese, Korean or Chinese with Latin letters', async () => {
      for (const name of ['Ελένη', 'Мария', 'やまだ太郎', 'Zoë_2.x-y', 'tanaka_田中']) {
        expect((await register(url, name)).status, name).toBe(201);
      }
    });
  });

  describe('login limits', () => {
    it('refuses the right password after concurrent wrong guesses used up the budget', async () => {
      await registerUser(url, 'concurrent');
      const guesses = await Promise.all(
        Array.from({ length: 40 }, () => call(url, 'POST', '/accounts/login/', { username: 'concurrent', password: 'wrong guess' })),
      );
      const statuses = guesses.map((guess) => guess.status);
      expect(statuses.filter((status) => status === 401)).toHaveLength(GUESSES_PER_ACCOUNT);
      expect(statuses.filter((status) => status === 429)).toHaveLength(40 - GUESSES_PER_ACCOUNT);
      const right = await call(url, 'POST', '/accounts/login/', { username: 'concurrent', password: PASSWORD });
      expect(right.status).toBe(429);
      expect(right.body.code).toBe('rate_limited');
      expect(Number(right.headers.get('retry-after'))).toBeGreaterThan(0);
    });

    it("shares one budget between an account's username and email", async () => {
      await registerUser(url, 'Twofaced');
      for (let i = 0; i < GUESSES_PER_ACCOUNT; i++) {
        const login = i % 2 === 0 ? 'twofaced' : 'TWOFACED@example.org';
        expect((await call(url, 'POST', '/accounts/login/', { username: login, password: 'wrong guess' })).status).toBe(401);
      }
      const byEmail = await call(url, 'POST', '/accounts/login/', { username: 'twofaced@EXAMPLE.org', password: PASSWORD });
      expect(byEmail.status).toBe(429);
    });

    it('does not count successful logins against the budget', async () => {
      await registerUser(url, 'regular');
      for (let i = 0; i < GUESSES_PER_ACCOUNT + 2; i++) {
        expect((await call(url, 'POST', '/accounts/login/', { username: 'regular', password: PASSWORD })).status).toBe(200);
      }
    });

    it('limits guesses of current_password per account, like login', async () => {
      const user = await registerUser(url);
      for (let i = 0; i < GUESSES_PER_ACCOUNT; i++) {
        const wrong = await call(url, 'PATCH', '/accounts/me/', { password: 'a brand new passphrase', current_password: `guess ${i}` }, { token: user.token });
        expect(wrong.status).toBe(400);
      }
      const right = await call(url, 'PATCH', '/accounts/me/', { password: 'a brand new passphrase', current_password: PASSWORD }, { token: user.token });
      expect(right.status).toBe(429);
      expect(Number(right.headers.get('retry-after'))).toBeGreaterThan(0);
      const login = await call(url, 'POST', '/accounts/login/', { username: user.username, password: PASSWORD });
      expect(login.status).toBe(429);
    });
  });
});

describeEachDatabase('expired tokens', (database) => {
  let app: TestApp;
  let clockOffset = 0;

  beforeAll(async () => {
    app = await startTestApp({ database, clock: () => Date.now() + clockOffset, tokenPruneIntervalMs: 50 });
  });
  afterAll(() => app.destroy());

  it('are deleted from the database once they expire, without being used again', async () => {
    const user = await registerUser(app.url);
    const inspector = openDatabase(app.config.database);
    try {
      const tokensOfUser = async () => (await inspector.db.selectFrom('tokens').select('id').where('user_id', '=', user.id).execute()).length;
      expect(await tokensOfUser()).toBe(1);
      clockOffset = app.config.tokenTtlMs + 1;
      await eventually(async () => expect(await tokensOfUser()).toBe(0));
    } finally {
      await inspector.close();
    }
  });
});

describeEachDatabase('a TOKEN_TTL under two minutes', (database) => {
  let app: TestApp;
  let clockOffset = 0;

  beforeAll(async () => {
    app = await startTestApp({ database, clock: () => Date.now() + clockOffset, env: { TOKEN_TTL: '2s' } });
  });
  afterAll(() => app.destroy());

  it('still slides: a token used past half its life lives on past its first expiry', async () => {
    clockOffset = 0;
    const user = await registerUser(app.url);
    const use = () => call(app.url, 'GET', '/accounts/conversations/', undefined, { token: user.token });
    clockOffset = 1200;
    expect((await use()).status).toBe(200);
    clockOffset = 2400;
    expect((await use()).status).toBe(200);
    clockOffset = 5000;
    expect((await use()).status).toBe(401);
  });
});
