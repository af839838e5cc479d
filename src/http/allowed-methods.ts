// Which methods a path answers, for a 405 to a request whose path exists under other methods:
// DRF answered `GET /accounts/register/` 405 with `Allow`, where Fastify's router answers 404.
// A router of its own (the one Fastify uses, with its options) holds every route's path; the web
// client's catch-all page route is left out, since it would make every path answer GET.
import type { FastifyInstance } from 'fastify';
import FindMyWay from 'find-my-way';

export class AllowedMethods {
  private readonly router = FindMyWay({ ignoreTrailingSlash: true });
  private readonly methods = new Set<string>();

  /** Records each route from here on. */
  install(app: FastifyInstance): void {
    app.addHook('onRoute', (route) => {
      if (route.url.includes('*')) return;
      for (const method of [route.method].flat()) {
        this.methods.add(method);
        this.router.on(method as FindMyWay.HTTPMethod, route.url, () => undefined);
      }
    });
  }

  /** The methods with a route for `path` (no query), in a stable order. */
  of(path: string): string[] {
    return [...this.methods].filter((method) => this.router.find(method as FindMyWay.HTTPMethod, path) !== null).sort();
  }
}
