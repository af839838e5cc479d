// The client's own words the server must not simply believe: X-Request-Id (echoed and logged)
// and X-Forwarded-For (per-address limits, logs, /metrics access), which only the proxies
// TRUST_PROXY names may write.
import { afterEach, expect, it } from 'vitest';
import { DEFAULT_ABUSE_LIMITS } from '../../src/accounts/service.js';
import { startTestApp, type TestApp, type TestAppOptions } from '../helpers/app.js';
import { describeEachDatabase } from '../helpers/databases.js';
import { call } from '../helpers/http.js';
import { captureLog, type CapturedLog } from '../helpers/log.js';

describeEachDatabase('request ids', (database) => {
  let app: TestApp;
  let log: CapturedLog;

  afterEach(() => app.destroy());

  async function start(): Promise<void> {
    log = captureLog();
    app = await startTestApp({ database, logger: log.logger });
  }

  function loggedRequestIds(): unknown[] {
    return log.entries().map((entry) => entry.reqId);
  }

  it('keeps a short request id of safe characters, echoes and logs it', async () => {
    await start();
    const response = await call(app.url, 'GET', '/healthz', undefined, { headers: { 'x-request-id': 'edge-7f3a:01.b_c' } });
    expect(response.headers.get('x-request-id')).toBe('edge-7f3a:01.b_c');
    expect(loggedRequestIds()).toContain('edge-7f3a:01.b_c');
  });

  it.each([
    ['a long one', 'a'.repeat(65)],
    ['a 15 KB one (near the most Node reads)', 'b'.repeat(15 * 1024)],
    ['one with spaces and quotes', 'id "x" y'],
    ['one with a forged log line', 'x\\n{"level":60}'],
  ])('replaces %s with an id of its own, echoed and logged', async (_name, sent) => {
    await start();
    const response = await call(app.url, 'GET', '/healthz', undefined, { headers: { 'x-request-id': sent } });
    const id = response.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(loggedRequestIds()).toContain(id);
    expect(JSON.stringify(log.entries())).not.toContain(sent);
  });
});

describeEachDatabase('TRUST_PROXY', (database) => {
  let app: TestApp;
  let log: CapturedLog;

  afterEach(() => app.destroy());

  async function start(env: Record<string, string>, options: TestAppOptions = {}): Promise<void> {
    log = captureLog();
    app = await startTestApp({ database, logger: log.logger, env, ...options });
  }

  /** The client address the server logged for the request it answered with this id. */
  function loggedAddress(requestId: string): unknown {
    const entry = log.entries().find((candidate) => candidate.reqId === requestId && typeof candidate.req === 'object');
    return (entry?.req as { remoteAddress?: string } | undefined)?.remoteAddress;
  }

  async function healthzFrom(forwardedFor: string | undefined, requestId: string): Promise<void> {
    const headers: Record<string, string> = { 'x-request-id': requestId };
    if (forwardedFor !== undefined) headers['x-forwarded-for'] = forwardedFor;
    expect((await call(app.url, 'GET', '/healthz', undefined, { headers })).status).toBe(200);
  }

  it('counts login failures against the address the proxy saw, not the leftmost one the client wrote (TRUST_PROXY=1)', async () => {
    await start({ TRUST_PROXY: '1' }, { abuseLimits: { ...DEFAULT_ABUSE_LIMITS, loginFailuresPerAddress: 3 } });
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 5; attempt++) {
      const response = await call(app.url, 'POST', '/accounts/login/', { username: `nobody${attempt}`, password: 'wrong password' }, {
        headers: { 'x-forwarded-for': `198.51.100.${attempt}, 203.0.113.7` },
      });
      statuses.push(response.status);
    }
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
  });

  it('logs the address one hop from the right with TRUST_PROXY=1', async () => {
    await start({ TRUST_PROXY: '1' });
    await healthzFrom('198.51.100.9, 203.0.113.7', 'one-hop');
    expect(loggedAddress('one-hop')).toBe('203.0.113.7');
  });

  it('does not believe entries written by a hop that is not a listed proxy', async () => {
    await start({ TRUST_PROXY: '127.0.0.1' });
    await healthzFrom('198.51.100.9, 203.0.113.7', 'listed-proxy');
    expect(loggedAddress('listed-proxy')).toBe('203.0.113.7');
  });

  it('walks back through every listed proxy to the first address none of them is', async () => {
    await start({ TRUST_PROXY: '127.0.0.1,10.0.0.0/8' });
    await healthzFrom('198.51.100.9, 203.0.113.7, 10.1.2.3', 'proxy-chain');
    expect(loggedAddress('proxy-chain')).toBe('203.0.113.7');
  });

  it('ignores X-Forwarded-For when no proxy is trusted', async () => {
    await start({});
    await healthzFrom('198.51.100.9', 'no-proxy');
    expect(loggedAddress('no-proxy')).toBe('127.0.0.1');
  });
});
