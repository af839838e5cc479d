// Helmet's default security headers, computed once. @fastify/helmet runs helmet's middleware
// chain (a dozen functions, the CSP parsed again) on every request, which cost a send about
// 4 % of its CPU; the defaults depend on nothing in the request. The web client's page runs
// @fastify/helmet on top of them (web/static.ts): its options change the CSP alone, and helmet
// sets every header it manages, so the page ends with exactly what helmet gives it.
import type { FastifyInstance } from 'fastify';
import helmet from 'helmet';

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

/** Adds helmet's default headers to every response. */
export function installDefaultSecurityHeaders(app: FastifyInstance): void {
  const { set, remove } = defaultHeaderChanges();
  app.addHook('onRequest', (_request, reply, done) => {
    const response = reply.raw;
    for (const [name, value] of set) response.setHeader(name, value);
    for (const name of remove) response.removeHeader(name);
    done();
  });
}
