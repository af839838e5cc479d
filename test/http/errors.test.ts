import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { call, registerUser } from '../helpers/http.js';

describe('the one JSON error shape', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ env: { BODY_LIMIT: '2kb' } });
  });
  afterAll(() => app.destroy());

  it('answers an unknown route with 404 not_found', async () => {
    const response = await call(app.url, 'GET', '/no/such/route/');
    expect(response.status).toBe(404);
    expect(response.body).toMatchObject({ code: 'not_found' });
    expect(typeof response.body.detail).toBe('string');
  });

  it('answers a method a path does not take with 405 method_not_allowed and the methods it does take, as DRF did', async () => {
    for (const [method, path, allow] of [
      ['GET', '/accounts/register/', 'POST'],
      ['GET', '/accounts/send-message', 'POST'],
      ['PUT', '/accounts/me/', 'GET, HEAD, PATCH'],
      ['PUT', '/accounts/groups/0190e8b2-5c1d-7000-8000-000000000000/members/bob/', 'DELETE, PATCH'],
      ['POST', '/ws', 'GET, HEAD'],
    ] as const) {
      const response = await call(app.url, method, path);
      expect(response.status, `${method} ${path}`).toBe(405);
      expect(response.headers.get('allow'), `${method} ${path}`).toBe(allow);
      expect(response.body, `${method} ${path}`).toEqual({ detail: `Method "${method}" not allowed.`, code: 'method_not_allowed' });
    }
    // A path no route has stays 404, whatever the method (the web client's page takes GET of any other path).
    for (const method of ['GET', 'POST']) expect((await call(app.url, method, '/no/such/route/')).status).toBe(404);
  });

  it('answers a URL it cannot decode with 400 bad_request in the same shape', async () => {
    for (const [method, path] of [['POST', '/accounts/messages/%ff/read/'], ['PATCH', '/accounts/messages/%zz/']]) {
      const response = await call(app.url, method!, path!, {});
      expect(response.status, path).toBe(400);
      expect(response.body, path).toEqual({ detail: expect.any(String), code: 'bad_request' });
    }
  });

  it('answers bad JSON with 400 malformed_json', async () => {
    const response = await call(app.url, 'POST', '/accounts/login/', undefined, { raw: '{"username": ', headers: { 'content-type': 'application/json' } });
    expect(response.status).toBe(400);
    expect(response.body.code).toBe('malformed_json');
  });

  it('refuses a body that is not UTF-8 with 400 malformed_json instead of storing it altered', async () => {
    const raw = Buffer.concat([Buffer.from('{"username": "bad '), Buffer.from([0xff, 0xfe]), Buffer.from('", "password": "x"}')]);
    const response = await call(app.url, 'POST', '/accounts/login/', undefined, { raw, headers: { 'content-type': 'application/json' } });
    expect(response.status).toBe(400);
    expect(response.body).toEqual({ detail: 'The body is not valid UTF-8.', code: 'malformed_json' });
  });

  it('takes valid JSON with a __proto__ key, dropping the key rather than refusing the body', async () => {
    const raw = '{"username": "proto-user", "password": "a fine password 1", "email": "proto@example.com", "__proto__": {"isAdmin": true}}';
    const response = await call(app.url, 'POST', '/accounts/register/', undefined, { raw, headers: { 'content-type': 'application/json' } });
    expect(response.status).toBe(201);
    expect(response.body.user).toMatchObject({ username: 'proto-user' });
    expect(response.body.user.isAdmin).toBeUndefined();
  });

  it('answers a wrong content type with 415 unsupported_media_type', async () => {
    const response = await call(app.url, 'POST', '/accounts/login/', undefined, { raw: 'hello', headers: { 'content-type': 'text/plain' } });
    expect(response.status).toBe(415);
    expect(response.body.code).toBe('unsupported_media_type');
  });

  it('answers a body over BODY_LIMIT with 413 payload_too_large', async () => {
    const response = await call(app.url, 'POST', '/accounts/login/', { username: 'x', password: 'y'.repeat(4000) });
    expect(response.status).toBe(413);
    expect(response.body.code).toBe('payload_too_large');
  });

  it('answers a schema failure with 400 validation_error and fields', async () => {
    const response = await call(app.url, 'POST', '/accounts/login/', { username: 42 });
    expect(response.status).toBe(400);
    expect(response.body.code).toBe('validation_error');
    expect(response.body.fields.password).toEqual(['This field is required.']);
  });

  it('answers a body nested thousands deep with a 4xx, not a 500, on every kind of route', async () => {
    // BODY_LIMIT as by default: the 2 KiB of this suite's app would refuse the body first.
    const roomy = await startTestApp();
    const user = await registerUser(roomy.url);
    const deep = `{"x":${'['.repeat(3000)}${']'.repeat(3000)}}`;
    const withText = `{"message":"hi","receiver":"${user.username}","junk":${'['.repeat(3000)}${']'.repeat(3000)}}`;
    for (const [method, path, raw] of [
      ['POST', '/no/such/route/', deep],
      ['POST', '/accounts/send-message/', withText],
      ['POST', '/accounts/messages/', withText],
      ['PATCH', '/accounts/me/', deep],
      ['POST', '/accounts/logout/', deep],
    ] as const) {
      const response = await call(roomy.url, method, path, undefined, { raw, token: user.token, headers: { 'content-type': 'application/json' } });
      expect(response.status, path).not.toBe(413);
      expect(response.status, path).toBeLessThan(500);
      expect(response.body, path).toBeTypeOf('object');
    }
    await roomy.destroy();
  });

  it('answers a send whose body is JSON null with 400 (the sealed form: no token in it)', async () => {
    const user = await registerUser(app.url);
    for (const [path, code] of [['/accounts/send-message/', 'validation_error'], ['/accounts/messages/', 'invalid_token_payload']]) {
      const response = await call(app.url, 'POST', path!, undefined, { raw: 'null', token: user.token, headers: { 'content-type': 'application/json' } });
      expect(response.status, path).toBe(400);
      expect(response.body.code, path).toBe(code);
    }
  });

  it('answers a JSON body that is not an object with 400', async () => {
    const response = await call(app.url, 'POST', '/accounts/login/', undefined, { raw: '[1,2]', headers: { 'content-type': 'application/json' } });
    expect(response.status).toBe(400);
    expect(response.body.code).toBe('validation_error');
  });
});

describe('operations', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(() => app.destroy());

  it('serves /healthz and /readyz', async () => {
    expect((await call(app.url, 'GET', '/healthz')).body).toEqual({ status: 'ok' });
    const ready = await call(app.url, 'GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body.checks.database).toBe('ok');
  });

  it('serves the OpenAPI document and the docs page', async () => {
    const spec = await call(app.url, 'GET', '/openapi.json');
    expect(spec.status).toBe(200);
    expect(spec.body.openapi).toMatch(/^3\./);
    expect(Object.keys(spec.body.paths)).toContain('/accounts/register/');
    const docs = await fetch(`${app.url}/docs/`);
    expect(docs.status).toBe(200);
    expect(await docs.text()).toContain('swagger');
  });

  it('returns a request id on every answer', async () => {
    const response = await call(app.url, 'GET', '/healthz');
    expect(response.headers.get('x-request-id')).toMatch(/[0-9a-f-]{36}/);
  });

  /** Writes `request` as it is (no client fixes it up) and answers the status and body of what comes back. */
  async function rawRequest(request: string): Promise<{ status: number; body: unknown }> {
    const { hostname, port } = new URL(app.url);
    const socket = connect(Number(port), hostname);
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    await new Promise<void>((resolve, reject) => socket.once('close', () => resolve()).once('error', reject).write(request));
    const [head = '', body = ''] = answer.split('\r\n\r\n');
    return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]), body: body ? JSON.parse(body) : undefined };
  }

  it('answers an HTTP/1.1 request without Host, and an Expect it cannot meet, in the same shape', async () => {
    expect(await rawRequest('GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n')).toEqual({ status: 400, body: { detail: expect.any(String), code: 'bad_request' } });
    expect(await rawRequest('GET /healthz HTTP/1.1\r\nHost: example.org\r\nExpect: 200-ok\r\nConnection: close\r\n\r\n')).toEqual({
      status: 417,
      body: { detail: expect.any(String), code: 'expectation_failed' },
    });
    // HTTP/1.0 needs no Host.
    expect(await rawRequest('GET /healthz HTTP/1.0\r\n\r\n')).toMatchObject({ status: 200 });
  });

  it("answers a path that climbs out of the web client's folder with 403 forbidden, serving nothing", async () => {
    expect(await rawRequest('GET /assets/../../package.json HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n')).toEqual({
      status: 403,
      body: { detail: expect.any(String), code: 'forbidden' },
    });
  });
});
