// Security headers. An API answer is JSON that no browser renders as a page, so it gets the set
// OWASP's REST Security Cheat Sheet gives for APIs: not stored by caches, never framed or sniffed,
// nothing loaded on its behalf, HSTS. Helmet's dozen document headers (its long CSP, COOP,
// X-DNS-Prefetch-Control...) on every answer cost a bare handler a fifth of its rate (about 20 µs
// a request, on the server and its client together), for nothing. The documents get helmet's defaults over them: /docs here
// (computed once, replayed per request), the web client's page by @fastify/helmet with its own CSP
// (web/static.ts; helmet sets every header it manages, so the page ends with exactly what helmet gives it).
import type { ServerResponse } from 'node:http';
import type { FastifyInstance, onRequestHookHandler } from 'fastify';
import helmet from 'helmet';

const API_HEADERS: [string, string][] = [
  ['cache-control', 'no-store'],
  ['content-security-policy', "default-src 'none'; frame-ancestors 'none'"],
  ['cross-origin-resource-policy', 'same-origin'],
  ['referrer-policy', 'no-referrer'],
  ['strict-transport-security', 'max-age=31536000; includeSubDomains'],
  ['x-content-type-options', 'nosniff'],
  ['x-frame-options', 'DENY'],
];

/** Adds the API's security headers to every response. */
export function installApiSecurityHeaders(app: FastifyInstance): void {
  app.addHook('onRequest', (_request, reply, done) => {
    const response = reply.raw;
    for (const [name, value] of API_HEADERS) response.setHeader(name, value);
    done();
  });
}

/** Makes a response that got a document's headers (the page's route, answering 404 after all) an API answer again. */
export function restoreApiSecurityHeaders(response: ServerResponse): void {
  for (const [name] of documentHeaderChanges().set) response.removeHeader(name);
  for (const [name, value] of API_HEADERS) response.setHeader(name, value);
}

interface HeaderChanges {
  set: [string, string][];
  remove: string[];
}

/** What helmet's middleware does to a response under its default options. */
function defaultHeaderChanges(): HeaderChanges {
  const changes: HeaderChanges = { set: [], remove: [] };
  const recorder = {
    setHeader: (name: string, value: string) => changes.set.push([name, value]),
    removeHeader: (name: string) => changes.remove.push(name),
  };
  helmet()({} as never, recorder as never, () => undefined);
  return changes;
}

let defaultChanges: HeaderChanges | undefined;

function documentHeaderChanges(): HeaderChanges {
  return (defaultChanges ??= defaultHeaderChanges());
}

/** A hook giving a document's responses helmet's default headers (over the API's: helmet's win, the API's cache rule goes). */
export function documentSecurityHeaders(): onRequestHookHandler {
  const { set, remove } = documentHeaderChanges();
  return (_request, reply, done) => {
    const response = reply.raw;
    response.removeHeader('cache-control');
    for (const [name, value] of set) response.setHeader(name, value);
    for (const name of remove) response.removeHeader(name);
    done();
  };
}
