// Serves the web client built into web/dist (`npm run build:web`): hashed assets cached for a
// year, index.html revalidated on every load, a Content-Security-Policy of its own (no inline
// script), and index.html for the client's own paths (/c/bob, /profile) on a page load.
import { existsSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import helmet from '@fastify/helmet';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { restoreApiSecurityHeaders } from '../http/security-headers.js';

/** Where `vite build web` writes the client; the same from src/web and from dist/web. */
export const WEB_CLIENT_DIR = fileURLToPath(new URL('../../web/dist/', import.meta.url));

// Paths of the API and of files: a miss there is the API's JSON 404, never the page.
const NOT_A_PAGE = /^\/(?:accounts|ws|healthz|readyz|metrics|docs|openapi\.json|assets)(?:\/|$)/;
const HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/** WebSockets to the host the page came from (older browsers do not count ws: as 'self'). */
function sameHostSockets(request: IncomingMessage): string {
  const host = request.headers.host ?? '';
  return HOST.test(host) ? `ws://${host} wss://${host}` : "'self'";
}

const PAGE_SECURITY = {
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      scriptSrcAttr: ["'none'"],
      styleSrc: ["'self'"],
      imgSrc: ["'self'"],
      fontSrc: ["'self'"],
      connectSrc: ["'self'", sameHostSockets],
      objectSrc: ["'none'"],
      baseUri: ["'none'"],
      formAction: ["'self'"],
      frameAncestors: ["'none'"],
    },
  },
};

const YEAR_MS = 365 * 24 * 3600 * 1000;

function wantsPage(request: FastifyRequest): boolean {
  const path = request.url.split('?')[0] ?? '';
  return !NOT_A_PAGE.test(path) && (request.headers.accept ?? '').includes('text/html');
}

export function webClientRoutes(root = WEB_CLIENT_DIR) {
  return async (app: FastifyInstance) => {
    if (!existsSync(join(root, 'index.html'))) {
      app.log.warn({ root }, 'web client not built: run `npm run build:web` to serve it at /');
      return;
    }
    // Here only: the page's CSP names the request's host, so helmet runs on it per request, over
    // the API's headers every response has (http/security-headers.ts). In this plugin's scope, its
    // hooks stay off the API's requests.
    await app.register(helmet, { global: false });
    await app.register(fastifyStatic, {
      root: join(root, 'assets'),
      prefix: '/assets/',
      index: false,
      // Names carry a content hash, so a file never changes: cache it for good.
      maxAge: YEAR_MS,
      immutable: true,
      // web/dist holds .br and .gz copies made at build time; caches must keep them apart.
      preCompressed: true,
      setHeaders: (response) => response.setHeader('vary', 'accept-encoding'),
    });

    const sendPage = (reply: FastifyReply) => reply.header('cache-control', 'no-cache').sendFile('index.html', root, { cacheControl: false });
    const page = { helmet: PAGE_SECURITY, schema: { hide: true } };
    app.get('/', page, (_request, reply) => sendPage(reply));
    app.get('/*', page, (request, reply) => {
      if (wantsPage(request)) return sendPage(reply);
      // Not a page after all: the API's JSON 404, with the API's headers rather than the page's.
      restoreApiSecurityHeaders(reply.raw);
      return reply.callNotFound();
    });
  };
}
