// The messages routes remember a token for a second; revoking it must still work at once.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { describeEachDatabase } from '../helpers/databases.js';
import { call, registerUser, type RegisteredUser } from '../helpers/http.js';

describeEachDatabase('token checks on the messages routes', (database) => {
  let app: TestApp;
  let bob: RegisteredUser;
  beforeAll(async () => {
    app = await startTestApp({ database });
    bob = await registerUser(app.url);
  });
  afterAll(() => app.destroy());

  const send = (token: string) => call(app.url, 'POST', '/accounts/send-message/', { message: 'hi', receiver: bob.username }, { token });
  const login = async (username: string) =>
    (await call(app.url, 'POST', '/accounts/login/', { username, password: 'a long and quiet river' })).body.token as string;

  it('refuses a token right after its logout', async () => {
    const alice = await registerUser(app.url);
    expect((await send(alice.token)).status).toBe(201);
    expect((await call(app.url, 'POST', '/accounts/logout/', undefined, { token: alice.token })).status).toBe(204);

    const refused = await send(alice.token);
    expect(refused.status).toBe(401);
    expect(refused.body.code).toBe('invalid_token');
  });

  it('refuses the other tokens right after a password change, and keeps the one that changed it', async () => {
    const carol = await registerUser(app.url);
    const other = await login(carol.username);
    expect((await send(other)).status).toBe(201);
    expect((await send(carol.token)).status).toBe(201);

    const changed = await call(app.url, 'PATCH', '/accounts/me/', { password: 'another long quiet river', current_password: 'a long and quiet river' }, { token: carol.token });
    expect(changed.status).toBe(200);
    expect((await send(other)).status).toBe(401);
    expect((await send(carol.token)).status).toBe(201);
  });
});
