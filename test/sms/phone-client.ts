// What the phone verification suites share: numbers nobody else uses, users with a number, and the
// two calls of the API, made over HTTP like a client.
import { randomInt } from 'node:crypto';
import type { Environment } from '../../src/config.js';
import type { FakeVonage } from '../helpers/fake-vonage.js';
import { call } from '../helpers/http.js';

export interface PhoneUser {
  id: number;
  username: string;
  token: string;
}

// Random per process, so suites running side by side never share a number (Vonage refuses a
// second verification to a number, and limits count per number).
let nextNumber = randomInt(1_000_000, 9_000_000);
let nextUser = 0;

/** A well-formed E.164 number no other test uses. */
export function uniquePhoneNumber(): string {
  nextNumber += 1;
  return `+1555${nextNumber}`;
}

export async function registerWithPhone(baseUrl: string, phoneNumber: string | null): Promise<PhoneUser> {
  const username = `phone${process.pid}x${++nextUser}`;
  const response = await call(baseUrl, 'POST', '/accounts/register/', {
    username,
    email: `${username}@example.org`,
    password: 'a long and quiet river',
    phone_number: phoneNumber,
  });
  if (response.status !== 201) throw new Error(`register ${username}: ${response.status} ${JSON.stringify(response.body)}`);
  return { id: response.body.user.id, username, token: response.body.token };
}

/**
 * Each user asks from a client address of its own, as real users do; an app behind TRUST_PROXY
 * sees it, so per-address limits do not add up over a whole suite's users.
 */
export function startVerification(baseUrl: string, user: PhoneUser, clientAddress = `10.0.${user.id >> 8}.${user.id & 255}`) {
  return call(baseUrl, 'POST', '/accounts/phone/verify/', undefined, { token: user.token, headers: { 'x-forwarded-for': clientAddress } });
}

export function checkCode(baseUrl: string, user: PhoneUser, code: unknown) {
  return call(baseUrl, 'POST', '/accounts/phone/verify/check/', { code }, { token: user.token });
}

export async function phoneVerified(baseUrl: string, user: PhoneUser): Promise<boolean> {
  const me = await call(baseUrl, 'GET', '/accounts/me/', undefined, { token: user.token });
  return me.body.phone_verified as boolean;
}

export function changePhoneNumber(baseUrl: string, user: PhoneUser, phoneNumber: string | null) {
  return call(baseUrl, 'PATCH', '/accounts/me/', { phone_number: phoneNumber }, { token: user.token });
}

/** A well-formed code that is not `code`. */
export function otherCode(code: string): string {
  return code === '000000' ? '111111' : '000000';
}

/** The environment that points an app at the fake Vonage with the fake's credentials. */
export function vonageEnvironment(fake: FakeVonage, overrides: Environment = {}): Environment {
  return {
    VONAGE_API_KEY: fake.apiKey,
    VONAGE_API_SECRET: fake.apiSecret,
    VONAGE_BRAND_NAME: 'RealChat',
    VONAGE_API_URL: fake.url,
    ...overrides,
  };
}
