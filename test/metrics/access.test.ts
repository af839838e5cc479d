// METRICS_ALLOW_FROM: /metrics answers the listed addresses only; to anyone else it is a route
// that does not exist. The client address follows TRUST_PROXY.
import { afterEach, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { describeEachDatabase } from '../helpers/databases.js';
import { call } from '../helpers/http.js';

describeEachDatabase('METRICS_ALLOW_FROM', (database) => {
  let app: TestApp;

  afterEach(() => app.destroy());

  async function metrics(headers: Record<string, string> = {}) {
    return call(app.url, 'GET', '/metrics', undefined, { headers });
  }

  it('serves /metrics to a listed address', async () => {
    app = await startTestApp({ database, env: { METRICS_ALLOW_FROM: '10.0.0.0/8,127.0.0.1' } });
    const response = await metrics();
    expect(response.status).toBe(200);
    expect(response.body).toContain('http_request_duration_seconds');
  });

  it('answers others 404 not_found, as for a route that does not exist', async () => {
    app = await startTestApp({ database, env: { METRICS_ALLOW_FROM: '10.0.0.0/8' } });
    const response = await metrics();
    const unknown = await call(app.url, 'GET', '/no-such-route');
    expect(response.status).toBe(404);
    expect(response.body).toEqual({ code: 'not_found', detail: 'No route for GET /metrics.' });
    expect(Object.keys(response.body)).toEqual(Object.keys(unknown.body));
  });

  it('serves anyone when unset', async () => {
    app = await startTestApp({ database });
    expect((await metrics()).status).toBe(200);
  });

  it('takes the client address behind a trusted proxy, and believes no X-Forwarded-For without one', async () => {
    app = await startTestApp({ database, env: { METRICS_ALLOW_FROM: '10.0.0.0/8', TRUST_PROXY: '1' } });
    expect((await metrics({ 'x-forwarded-for': '10.1.2.3' })).status).toBe(200);
    expect((await metrics({ 'x-forwarded-for': '10.1.2.3, 192.0.2.1' })).status).toBe(404);
    await app.destroy();
    app = await startTestApp({ database, env: { METRICS_ALLOW_FROM: '10.0.0.0/8' } });
    expect((await metrics({ 'x-forwarded-for': '10.1.2.3' })).status).toBe(404);
  });
});
