// The security headers: the API's answers (successes and errors) get the lean set OWASP gives
// for APIs; the documents (/docs, the web client's page) get helmet's defaults over it. A path
// that no route has is the page's route's, which answers the API's JSON 404 with the API's headers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { call, registerUser } from '../helpers/http.js';
import { assertWebClientBuilt } from '../web/browser.js';

const API_HEADERS = {
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'cross-origin-resource-policy': 'same-origin',
  'referrer-policy': 'no-referrer',
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
};

// Helmet's document headers, which an API answer has no use for.
const DOCUMENT_ONLY = ['cross-origin-opener-policy', 'origin-agent-cluster', 'x-dns-prefetch-control', 'x-download-options', 'x-permitted-cross-domain-policies', 'x-xss-protection'];

function headersOf(response: { headers: Headers }, names: string[]): Record<string, string | null> {
  return Object.fromEntries(names.map((name) => [name, response.headers.get(name)]));
}

describe('security headers', () => {
  let app: TestApp;
  beforeAll(async () => {
    assertWebClientBuilt();
    app = await startTestApp({});
  });
  afterAll(() => app?.destroy());

  it('gives every API answer the API set, and none of the document headers', async () => {
    const alice = await registerUser(app.url, 'alice');
    await registerUser(app.url, 'bob');
    const answers = [
      await call(app.url, 'POST', '/accounts/send-message/', { message: 'hi', receiver: 'bob' }, { token: alice.token }),
      await call(app.url, 'POST', '/accounts/send-message/', { message: 'hi', receiver: 'nobody' }, { token: alice.token }),
      await call(app.url, 'GET', '/accounts/me/'),
      await call(app.url, 'GET', '/healthz'),
      await call(app.url, 'GET', '/no-such-path'),
      await call(app.url, 'GET', '/favicon.ico'),
    ];
    expect(answers.map((answer) => answer.status)).toEqual([201, 404, 401, 200, 404, 404]);
    for (const answer of answers) {
      expect(headersOf(answer, Object.keys(API_HEADERS))).toEqual(API_HEADERS);
      expect(headersOf(answer, DOCUMENT_ONLY)).toEqual(Object.fromEntries(DOCUMENT_ONLY.map((name) => [name, null])));
      expect(answer.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('gives /docs and the web client’s page helmet’s document headers, with their own CSP and caching', async () => {
    const page = { accept: 'text/html' };
    for (const path of ['/docs/', '/']) {
      const response = await fetch(`${app.url}${path}`, { headers: page });
      await response.arrayBuffer();
      expect(response.status, path).toBe(200);
      expect(response.headers.get('cross-origin-opener-policy'), path).toBe('same-origin');
      expect(response.headers.get('x-frame-options'), path).toBe('SAMEORIGIN');
      expect(response.headers.get('x-content-type-options'), path).toBe('nosniff');
      expect(response.headers.get('cache-control'), path).not.toBe('no-store');
      expect(response.headers.get('content-security-policy'), path).not.toBe(API_HEADERS['content-security-policy']);
    }
  });
});
