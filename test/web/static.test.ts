// The web client as the server hands it out: caching, CSP, compression and the page fallback
// that must never swallow an API 404.
import { readFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { WEB_CLIENT_DIR } from '../../src/web/static.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { describeEachDatabase } from '../helpers/databases.js';
import { assertWebClientBuilt } from './browser.js';

const PAGE = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };

function assetPaths(html: string): string[] {
  return [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((match) => match[1]!);
}

describeEachDatabase('web client serving', (database) => {
  let app: TestApp;
  beforeAll(async () => {
    assertWebClientBuilt();
    app = await startTestApp({ database });
  });
  afterAll(() => app?.destroy());

  it('serves index.html at / uncached, with a CSP that allows no inline script', async () => {
    const response = await fetch(`${app.url}/`, { headers: PAGE });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(response.headers.get('cache-control')).toBe('no-cache');
    const csp = response.headers.get('content-security-policy') ?? '';
    const directives = Object.fromEntries(csp.split(';').map((part) => part.trim().split(/\s+/)).map(([name, ...values]) => [name, values]));
    expect(directives['script-src']).toEqual(["'self'"]);
    expect(directives['script-src-attr']).toEqual(["'none'"]);
    const host = new URL(app.url).host;
    expect(directives['connect-src']).toEqual(["'self'", `ws://${host}`, `wss://${host}`]);
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('upgrade-insecure-requests');
    const html = await response.text();
    expect(html).toBe(readFileSync(join(WEB_CLIENT_DIR, 'index.html'), 'utf8'));
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
    expect(assetPaths(html).length).toBeGreaterThanOrEqual(2);
  });

  it('answers a revalidation of index.html with 304', async () => {
    const first = await fetch(`${app.url}/`, { headers: { ...PAGE, 'accept-encoding': 'gzip' } });
    await first.arrayBuffer();
    const etag = first.headers.get('etag');
    expect(etag).toBeTruthy();
    // node:http, as fetch marks every conditional request "no-cache", which send() must refuse to answer 304.
    const status = await new Promise<number | undefined>((resolve, reject) => {
      get(`${app.url}/`, { headers: { ...PAGE, 'accept-encoding': 'gzip', 'if-none-match': etag! } }, (response) => {
        response.resume();
        resolve(response.statusCode);
      }).once('error', reject);
    });
    expect(status).toBe(304);
  });

  it('serves hashed assets for a year, immutable, compressed when the browser accepts it', async () => {
    const html = await (await fetch(`${app.url}/`, { headers: PAGE })).text();
    for (const path of assetPaths(html)) {
      expect(path).toMatch(/-[A-Za-z0-9_-]{8}\.(js|css|svg)$/);
      const plain = await fetch(`${app.url}${path}`, { headers: { 'accept-encoding': 'identity' } });
      expect(plain.status).toBe(200);
      expect(plain.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      const body = Buffer.from(await plain.arrayBuffer());
      expect(body.equals(readFileSync(join(WEB_CLIENT_DIR, path)))).toBe(true);
    }
    const script = assetPaths(html).find((path) => path.endsWith('.js'))!;
    const compressed = await fetch(`${app.url}${script}`, { headers: { 'accept-encoding': 'gzip' } });
    expect(compressed.headers.get('content-encoding')).toBe('gzip');
    expect(compressed.headers.get('content-type')).toMatch(/javascript/);
    expect(compressed.headers.get('vary')).toMatch(/accept-encoding/i);
    await compressed.arrayBuffer();
  });

  it('serves the page for the client paths a browser loads (/c/bob, /profile)', async () => {
    for (const path of ['/c/bob', '/c/bob%40b', '/profile']) {
      const response = await fetch(`${app.url}${path}`, { headers: PAGE });
      expect(response.status, path).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/html/);
      expect(response.headers.get('content-security-policy')).toContain("script-src 'self'");
      await response.arrayBuffer();
    }
  });

  it('keeps 404s of API paths, missing assets and non-page requests as JSON', async () => {
    const cases: Array<[string, string, Record<string, string>]> = [
      ['GET', '/accounts/nothing-here/', PAGE],
      ['GET', '/assets/missing-12345678.js', PAGE],
      ['GET', '/c/bob', { accept: 'application/json' }],
      ['GET', '/nothing', {}],
      ['POST', '/c/bob', PAGE],
    ];
    for (const [method, path, headers] of cases) {
      const response = await fetch(`${app.url}${path}`, { method, headers });
      expect(response.status, `${method} ${path}`).toBe(404);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await response.json()).toMatchObject({ code: 'not_found' });
    }
  });

  it('leaves the API and the /docs page with their own answers and policy', async () => {
    const health = await fetch(`${app.url}/healthz`, { headers: PAGE });
    expect(await health.json()).toEqual({ status: 'ok' });
    const docs = await fetch(`${app.url}/docs/`, { headers: PAGE });
    expect(docs.status).toBe(200);
    // swagger-ui's own policy (staticCSP), not the client's.
    expect(docs.headers.get('content-security-policy')).toContain('validator.swagger.io');
    // Over plain HTTP on a LAN an upgrade would fetch its scripts over https: a blank page.
    expect(docs.headers.get('content-security-policy')).not.toContain('upgrade-insecure-requests');
    await docs.arrayBuffer();
    const script = await fetch(`${app.url}/docs/static/swagger-ui-bundle.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-security-policy') ?? '').not.toContain('upgrade-insecure-requests');
    await script.arrayBuffer();
  });
});
