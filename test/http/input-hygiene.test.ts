// Input hygiene on every route: control characters, lists for strings, empty JSON bodies.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newKey, startTestApp, type TestApp } from '../helpers/app.js';
import { describeEachDatabase } from '../helpers/databases.js';
import { call, registerUser, type RegisteredUser } from '../helpers/http.js';
import { peerRequest, postAsPeer } from '../federation/peer-requests.js';

const PASSWORD = 'a long and quiet river';
const JSON_TYPE = { 'content-type': 'application/json' };

describeEachDatabase('input hygiene', (database) => {
  const peerKey = newKey();
  let app: TestApp;
  let url: string;
  let alice: RegisteredUser;
  let bob: RegisteredUser;

  beforeAll(async () => {
    app = await startTestApp({ database, env: { PEERS: JSON.stringify([{ name: 'b', url: 'http://127.0.0.1:9', key: peerKey }]) } });
    url = app.url;
    [alice, bob] = [await registerUser(url), await registerUser(url)];
  });
  afterAll(() => app.destroy());

  describe('control characters', () => {
    it('refuses U+0000 in a registration with 400 naming the field', async () => {
      const response = await call(url, 'POST', '/accounts/register/', { username: 'nul\u0000name', email: 'nul@example.org', password: PASSWORD });
      expect(response.status).toBe(400);
      expect(response.body.code).toBe('validation_error');
      expect(Object.keys(response.body.fields)).toEqual(['username']);
    });

    it('refuses U+0000 in a login without an account with 400', async () => {
      const response = await call(url, 'POST', '/accounts/login/', { username: 'nobody\u0000', password: PASSWORD });
      expect(response.status).toBe(400);
      expect(Object.keys(response.body.fields)).toEqual(['username']);
    });

    it('refuses U+0000 and control characters in a receiver, and U+0000 in message text', async () => {
      for (const receiver of [`${bob.username}\u0000`, `${bob.username}\u001b`]) {
        const response = await call(url, 'POST', '/accounts/send-message/', { message: 'hi', receiver }, { token: alice.token });
        expect(response.status, JSON.stringify(receiver)).toBe(400);
        expect(Object.keys(response.body.fields)).toEqual(['receiver']);
      }
      const text = await call(url, 'POST', '/accounts/send-message/', { message: 'hi\u0000there', receiver: bob.username }, { token: alice.token });
      expect(text.status).toBe(400);
      expect(Object.keys(text.body.fields)).toEqual(['message']);
    });

    it('refuses a lone surrogate, which would be stored as U+FFFD, and keeps a pair (an emoji)', async () => {
      const lone = await call(url, 'POST', '/accounts/send-message/', { message: 'lone \ud800 half', receiver: bob.username }, { token: alice.token });
      expect(lone.status).toBe(400);
      expect(Object.keys(lone.body.fields)).toEqual(['message']);
      const pair = await call(url, 'POST', '/accounts/send-message/', { message: 'a pair \ud83d\ude00', receiver: bob.username }, { token: alice.token });
      expect(pair.status).toBe(201);
    });

    it('keeps tabs and line breaks in message text', async () => {
      const response = await call(url, 'POST', '/accounts/send-message/', { message: 'line one\n\tline two\r\n', receiver: bob.username }, { token: alice.token });
      expect(response.status).toBe(201);
    });

    it('refuses U+0000 in ?with= and in presence ?users=', async () => {
      const history = await call(url, 'GET', `/accounts/messages/?with=${encodeURIComponent(`${bob.username}\u0000`)}`, undefined, { token: alice.token });
      expect(history.status).toBe(400);
      expect(Object.keys(history.body.fields)).toEqual(['with']);
      const presence = await call(url, 'GET', `/accounts/presence/?users=${encodeURIComponent(`${bob.username},x\u0000`)}`, undefined, { token: alice.token });
      expect(presence.status).toBe(400);
      expect(Object.keys(presence.body.fields)).toEqual(['users']);
    });

    it('refuses U+0000 in a message received from a peer', async () => {
      const fromSender = await postAsPeer(url, peerRequest({ key: peerKey, origin: 'b', destination: 'localhost', sender: 'carol\u0000', receiver: bob.username }));
      expect(fromSender.status).toBe(400);
      expect(Object.keys(fromSender.body.fields as object)).toEqual(['sender']);
      const toReceiver = await postAsPeer(url, peerRequest({ key: peerKey, origin: 'b', destination: 'localhost', sender: 'carol', receiver: `${bob.username}\u0000` }));
      expect(toReceiver.status).toBe(400);
      expect(Object.keys(toReceiver.body.fields as object)).toEqual(['receiver']);
    });

    it('refuses a username whose normalised form is over 150 characters', async () => {
      // Each ligature is one character that NFKC turns into three.
      const response = await call(url, 'POST', '/accounts/register/', { username: '\ufb03'.repeat(60), email: 'ligatures@example.org', password: PASSWORD });
      expect(response.status).toBe(400);
      expect(Object.keys(response.body.fields)).toEqual(['username']);
    });
  });

  describe('lists where a string is expected', () => {
    it('refuses a one-element list as a username on login and register', async () => {
      const login = await call(url, 'POST', '/accounts/login/', { username: [alice.username], password: PASSWORD });
      expect(login.status).toBe(400);
      expect(login.body.code).toBe('validation_error');
      expect(Object.keys(login.body.fields)).toEqual(['username']);
      const register = await call(url, 'POST', '/accounts/register/', { username: ['listed'], email: 'listed@example.org', password: PASSWORD });
      expect(register.status).toBe(400);
      expect(Object.keys(register.body.fields)).toEqual(['username']);
    });

    it('refuses a one-element list as a receiver', async () => {
      const response = await call(url, 'POST', '/accounts/send-message/', { message: 'hi', receiver: [bob.username] }, { token: alice.token });
      expect(response.status).toBe(400);
      expect(Object.keys(response.body.fields)).toEqual(['receiver']);
    });

    it('refuses true and false where a string is expected, as DRF does, and takes a number as its string', async () => {
      const text = await call(url, 'POST', '/accounts/send-message/', { message: true, receiver: bob.username }, { token: alice.token });
      expect(text.status).toBe(400);
      expect(text.body.fields).toEqual({ message: ['Not a valid string.'] });
      const name = await call(url, 'POST', '/accounts/groups/', { name: false, members: [bob.username] }, { token: alice.token });
      expect(name.status).toBe(400);
      expect(name.body.fields).toEqual({ name: ['Not a valid string.'] });
      const member = await call(url, 'POST', '/accounts/groups/', { name: 'trip', members: [bob.username, true] }, { token: alice.token });
      expect(member.status).toBe(400);
      expect(member.body.fields).toEqual({ members: ['Item 2: Not a valid string.'] });
      const login = await call(url, 'POST', '/accounts/login/', { username: alice.username, password: true });
      expect(login.status).toBe(400);
      const number = await call(url, 'POST', '/accounts/send-message/', { message: 42, receiver: bob.username }, { token: alice.token });
      expect(number.status).toBe(201);
      const history = await call(url, 'GET', `/accounts/messages/?with=${bob.username}`, undefined, { token: alice.token });
      expect(history.body.results[0].message).toBe('42');
    });

    it('still reads numbers in query strings and a comma list of users', async () => {
      // Presence answers for established conversations only: both have written.
      for (const [from, to] of [[alice, bob], [bob, alice]] as const) {
        const sent = await call(url, 'POST', '/accounts/send-message/', { message: 'hello', receiver: to.username }, { token: from.token });
        expect(sent.status).toBe(201);
      }
      const history = await call(url, 'GET', `/accounts/messages/?with=${bob.username}&limit=50`, undefined, { token: alice.token });
      expect(history.status).toBe(200);
      const presence = await call(url, 'GET', `/accounts/presence/?users=${bob.username},${alice.username}`, undefined, { token: alice.token });
      expect(presence.status).toBe(200);
      expect(Object.keys(presence.body)).toEqual([bob.username]);
    });
  });

  describe('an empty JSON body', () => {
    it('is no data for a logout', async () => {
      const user = await registerUser(url);
      const response = await call(url, 'POST', '/accounts/logout/', undefined, { token: user.token, headers: JSON_TYPE, raw: '' });
      expect(response.status).toBe(204);
    });

    it('is no data for starting a phone verification', async () => {
      const response = await call(url, 'POST', '/accounts/phone/verify/', undefined, { token: alice.token, headers: JSON_TYPE, raw: '' });
      expect(response.status).toBe(400);
      expect(response.body.code).toBe('no_phone_number');
    });

    it('names the missing fields where a body is required, as {} does', async () => {
      const empty = await call(url, 'POST', '/accounts/login/', undefined, { headers: JSON_TYPE, raw: '' });
      const braces = await call(url, 'POST', '/accounts/login/', {});
      expect(empty.status).toBe(400);
      expect(empty.body).toEqual(braces.body);
      expect(empty.body.code).toBe('validation_error');
      expect(Object.keys(empty.body.fields).sort()).toEqual(['password', 'username']);
    });

    it('names the missing fields of a message sent with an empty body, as {} does', async () => {
      const empty = await call(url, 'POST', '/accounts/messages/', undefined, { token: alice.token, headers: JSON_TYPE, raw: '' });
      const braces = await call(url, 'POST', '/accounts/messages/', {}, { token: alice.token });
      expect(empty.status).toBe(400);
      expect(empty.body).toEqual(braces.body);
      expect(empty.body.code).toBe('validation_error');
    });
  });
});
