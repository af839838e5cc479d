// A query's integers (`limit`, `after`) in decimal digits only: what Ajv's coercion would take
// for a number ("Infinity", "1e400", hex, padded) is 400 validation_error naming the parameter,
// on every list endpoint, never a 500 from the database.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { call, registerUser, type RegisteredUser } from '../helpers/http.js';

describe('integers in the query', () => {
  let app: TestApp;
  let alice: RegisteredUser;
  let bob: RegisteredUser;
  beforeAll(async () => {
    app = await startTestApp();
    [alice, bob] = [await registerUser(app.url), await registerUser(app.url)];
    expect((await call(app.url, 'POST', '/accounts/send-message/', { receiver: bob.username, message: 'hello' }, { token: alice.token })).status).toBe(201);
  });
  afterAll(() => app.destroy());

  const loose = ['Infinity', '-Infinity', '1e400', '1e2', '0x10', '%205', '5.0', '9007199254740993'];
  const endpoints = (value: string) => [
    { path: `/accounts/messages/?with=${bob.username}&limit=${value}`, field: 'limit' },
    { path: `/accounts/messages/?after=${value}`, field: 'after' },
    { path: `/accounts/messages/?after=0&limit=${value}`, field: 'limit' },
    { path: `/accounts/conversations/?limit=${value}`, field: 'limit' },
    { path: `/accounts/events/?after=${value}`, field: 'after' },
    { path: `/accounts/events/?after=0&limit=${value}`, field: 'limit' },
  ];

  it('refuses an integer not written in decimal digits with 400, naming the parameter', async () => {
    for (const value of loose) {
      for (const { path, field } of endpoints(value)) {
        const response = await call(app.url, 'GET', path, undefined, { token: alice.token });
        expect(response.status, path).toBe(400);
        expect(response.body, path).toEqual({ detail: 'Invalid input.', code: 'validation_error', fields: { [field]: ['Must be of type integer.'] } });
      }
    }
  });

  it('takes decimal digits, and still checks their bounds', async () => {
    for (const { path } of endpoints('1')) expect((await call(app.url, 'GET', path, undefined, { token: alice.token })).status, path).toBe(200);
    const history = await call(app.url, 'GET', `/accounts/messages/?with=${bob.username}&limit=1`, undefined, { token: alice.token });
    expect(history.body.results.map((message: { message: string }) => message.message)).toEqual(['hello']);
    const tooMany = await call(app.url, 'GET', '/accounts/conversations/?limit=201', undefined, { token: alice.token });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.fields).toEqual({ limit: ['Ensure this value is less than or equal to 200.'] });
  });
});
