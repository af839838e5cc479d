import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { describeEachDatabase } from '../helpers/databases.js';
import { call, registerUser } from '../helpers/http.js';

const PASSWORD = 'a long and quiet river';

describeEachDatabase('accounts', (database) => {
  let app: TestApp;
  let url: string;

  beforeAll(async () => {
    app = await startTestApp({ database });
    url = app.url;
  });
  afterAll(() => app.destroy());

  describe('POST /accounts/register/', () => {
    it('creates a user with its profile and answers with a token', async () => {
      const response = await call(url, 'POST', '/accounts/register/', {
        username: 'Alice',
        email: 'Alice@Example.org',
        password: PASSWORD,
        phone_number: '+44 7700-900123',
      });
      expect(response.status).toBe(201);
      expect(response.body.message).toBe('User registered successfully');
      expect(response.body.token).toMatch(/^[A-Za-z0-9_-]{40,}$/);
      expect(response.body.user).toMatchObject({
        username: 'Alice',
        email: 'Alice@Example.org',
        phone_number: '+447700900123',
        phone_verified: false,
      });
      expect(new Date(response.body.user.date_joined).getTime()).toBeGreaterThan(0);
      const me = await call(url, 'GET', '/accounts/me/', undefined, { token: response.body.token });
      expect(me.status).toBe(200);
      expect(me.body).toEqual(response.body.user);
    });

    it('refuses a username taken in another case with 409 username_taken', async () => {
      await registerUser(url, 'carol');
      const response = await call(url, 'POST', '/accounts/register/', { username: 'CAROL', email: 'other@example.org', password: PASSWORD });
      expect(response.status).toBe(409);
      expect(response.body).toEqual({
        detail: 'A user with that username already exists.',
        code: 'username_taken',
        fields: { username: ['A user with that username already exists.'] },
      });
    });

    it('refuses an email taken in another case with 409 email_taken', async () => {
      await call(url, 'POST', '/accounts/register/', { username: 'dave', email: 'dave@example.org', password: PASSWORD });
      const response = await call(url, 'POST', '/accounts/register/', { username: 'dave2', email: 'DAVE@example.org', password: PASSWORD });
      expect(response.status).toBe(409);
      expect(response.body.code).toBe('email_taken');
      expect(response.body.fields.email).toHaveLength(1);
    });

    it("applies Django's password validators with their messages", async () => {
      const cases: Array<[string, string]> = [
        ['short1', 'This password is too short. It must contain at least 8 characters.'],
        ['1234567890', 'This password is entirely numeric.'],
        ['password', 'This password is too common.'],
        ['erinsmith1', 'The password is too similar to the username.'],
      ];
      for (const [password, message] of cases) {
        const response = await call(url, 'POST', '/accounts/register/', { username: 'erinsmith', email: 'erin@example.org', password });
        expect(response.status, password).toBe(400);
        expect(response.body.code).toBe('validation_error');
        expect(response.body.fields.password, password).toContain(message);
      }
    });

    it('reports every bad field at once in the fields shape', async () => {
      const response = await call(url, 'POST', '/accounts/register/', {
        username: 'a@b',
        email: 'not-an-email',
        password: PASSWORD,
        phone_number: '12ab',
      });
      expect(response.status).toBe(400);
      expect(response.body.detail).toBe('Invalid input.');
      expect(Object.keys(response.body.fields).sort()).toEqual(['email', 'phone_number', 'username']);
    });

    it('answers 400 validation_error naming a missing field', async () => {
      const response = await call(url, 'POST', '/accounts/register/', { username: 'frank', password: PASSWORD });
      expect(response.status).toBe(400);
      expect(response.body).toMatchObject({ code: 'validation_error', fields: { email: ['This field is required.'] } });
    });

    it('gives exactly one 201 when many requests register one username at once', async () => {
      const attempts = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          call(url, 'POST', '/accounts/register/', { username: 'racer', email: `racer${i}@example.org`, password: PASSWORD }),
        ),
      );
      const statuses = attempts.map((r) => r.status);
      expect(statuses.filter((s) => s === 201)).toHaveLength(1);
      expect(statuses.filter((s) => s !== 201).every((s) => s === 409 || s === 429)).toBe(true);
    });

    it('accepts a form-encoded body as DRF does', async () => {
      const form = new URLSearchParams({ username: 'formuser', email: 'form@example.org', password: PASSWORD }).toString();
      const response = await call(url, 'POST', '/accounts/register/', undefined, {
        raw: form,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(response.status).toBe(201);
    });
  });

  describe('POST /accounts/login/', () => {
    it('logs in by username in any case and by email', async () => {
      await call(url, 'POST', '/accounts/register/', { username: 'Grace', email: 'grace@example.org', password: PASSWORD });
      for (const login of ['grace', 'GRACE', 'Grace@Example.ORG']) {
        const response = await call(url, 'POST', '/accounts/login/', { username: login, password: PASSWORD });
        expect(response.status, login).toBe(200);
        expect(response.body.message).toBe('Login successful');
        expect(response.body.user.username).toBe('Grace');
        expect(typeof response.body.token).toBe('string');
      }
    });

    it('answers an unknown user and a wrong password alike', async () => {
      await registerUser(url, 'heidi');
      const wrong = await call(url, 'POST', '/accounts/login/', { username: 'heidi', password: 'not the password' });
      const unknown = await call(url, 'POST', '/accounts/login/', { username: 'nobody-here', password: 'not the password' });
      expect(wrong.status).toBe(401);
      expect(unknown.status).toBe(401);
      expect(wrong.body).toEqual(unknown.body);
      expect(wrong.body.code).toBe('invalid_credentials');
    });

    it('takes about the same time for an unknown user as for a wrong password', async () => {
      await registerUser(url, 'ivan');
      const time = async (username: string) => {
        const started = performance.now();
        await call(url, 'POST', '/accounts/login/', { username, password: 'not the password' });
        return performance.now() - started;
      };
      const wrong: number[] = [];
      const unknown: number[] = [];
      for (let i = 0; i < 12; i++) {
        wrong.push(await time('ivan'));
        unknown.push(await time(`ghost${i}`));
      }
      // Load on the machine only ever adds time, so the fastest of several runs is the cost
      // itself. Both pay one argon2 verification; a skipped hash would cost a few per cent of it,
      // so a third of it leaves room for a loaded machine and still tells the two apart.
      expect(Math.min(...unknown)).toBeGreaterThan(Math.min(...wrong) / 3);
    });
  });

  describe('tokens', () => {
    it('accepts Token and Bearer, refuses a missing or unknown token', async () => {
      const user = await registerUser(url);
      expect((await call(url, 'GET', '/accounts/me/', undefined, { headers: { authorization: `Bearer ${user.token}` } })).status).toBe(200);
      const missing = await call(url, 'GET', '/accounts/me/');
      expect(missing.status).toBe(401);
      expect(missing.body.code).toBe('not_authenticated');
      const unknown = await call(url, 'GET', '/accounts/me/', undefined, { token: 'x'.repeat(43) });
      expect(unknown.status).toBe(401);
      expect(unknown.body.code).toBe('invalid_token');
    });

    it('revokes the token on logout', async () => {
      const user = await registerUser(url);
      const logout = await call(url, 'POST', '/accounts/logout/', undefined, { token: user.token });
      expect(logout.status).toBe(204);
      expect((await call(url, 'GET', '/accounts/me/', undefined, { token: user.token })).status).toBe(401);
    });

    it('accepts the path without the trailing slash', async () => {
      const user = await registerUser(url);
      expect((await call(url, 'GET', '/accounts/me', undefined, { token: user.token })).status).toBe(200);
    });
  });

  describe('PATCH /accounts/me/', () => {
    it('changes the email and the phone number, which becomes unverified', async () => {
      const user = await registerUser(url);
      const response = await call(url, 'PATCH', '/accounts/me/', { email: `new-${user.username}@example.org`, phone_number: '+15550001111' }, { token: user.token });
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ email: `new-${user.username}@example.org`, phone_number: '+15550001111', phone_verified: false });
    });

    it('changes the password with the current one and revokes the other tokens', async () => {
      const user = await registerUser(url);
      const other = await call(url, 'POST', '/accounts/login/', { username: user.username, password: PASSWORD });
      const refused = await call(url, 'PATCH', '/accounts/me/', { password: 'a brand new passphrase' }, { token: user.token });
      expect(refused.status).toBe(400);
      expect(refused.body.fields.current_password).toBeDefined();
      const changed = await call(url, 'PATCH', '/accounts/me/', { password: 'a brand new passphrase', current_password: PASSWORD }, { token: user.token });
      expect(changed.status).toBe(200);
      expect((await call(url, 'GET', '/accounts/me/', undefined, { token: user.token })).status).toBe(200);
      expect((await call(url, 'GET', '/accounts/me/', undefined, { token: other.body.token })).status).toBe(401);
      const login = await call(url, 'POST', '/accounts/login/', { username: user.username, password: 'a brand new passphrase' });
      expect(login.status).toBe(200);
    });

    it('refuses a wrong current password and an email taken by another user', async () => {
      const user = await registerUser(url);
      const other = await registerUser(url);
      const wrong = await call(url, 'PATCH', '/accounts/me/', { password: 'a brand new passphrase', current_password: 'nope nope nope' }, { token: user.token });
      expect(wrong.status).toBe(400);
      expect(wrong.body.fields.current_password).toEqual(['The current password is not correct.']);
      const taken = await call(url, 'PATCH', '/accounts/me/', { email: `${other.username}@example.org` }, { token: user.token });
      expect(taken.status).toBe(409);
      expect(taken.body.code).toBe('email_taken');
    });
  });
});

describe('abuse limits', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({
      abuseLimits: { windowMs: 60_000, loginFailuresPerUsername: 3, loginFailuresPerAddress: 50, registrationsPerAddress: 4, registrationsPerUsername: 10 },
    });
  });
  afterAll(() => app.destroy());

  it('answers 429 with Retry-After after repeated login failures for one username', async () => {
    await registerUser(app.url, 'judy');
    for (let i = 0; i < 3; i++) {
      expect((await call(app.url, 'POST', '/accounts/login/', { username: 'judy', password: 'wrong wrong' })).status).toBe(401);
    }
    const limited = await call(app.url, 'POST', '/accounts/login/', { username: 'JUDY', password: PASSWORD });
    expect(limited.status).toBe(429);
    expect(limited.body.code).toBe('rate_limited');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('limits registrations per client address', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      statuses.push((await call(app.url, 'POST', '/accounts/register/', { username: `bulk${i}`, email: `bulk${i}@example.org`, password: PASSWORD })).status);
    }
    // judy's registration above used one of the four.
    expect(statuses).toEqual([201, 201, 201, 429, 429]);
  });
});
