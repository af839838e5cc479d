// Operational routes: liveness, readiness and the OpenAPI document.
import type { FastifyInstance } from 'fastify';

export interface ReadinessCheck {
  name: string;
  check(): Promise<void>;
}

export function operationsRoutes(checks: ReadinessCheck[]) {
  return async (app: FastifyInstance) => {
    app.get('/healthz', { schema: { tags: ['operations'], summary: 'The process is alive' } }, async () => ({ status: 'ok' }));

    app.get('/readyz', { schema: { tags: ['operations'], summary: 'The database (and Redis) answer' } }, async (request, reply) => {
      const results = await Promise.all(
        checks.map(async ({ name, check }) => {
          try {
            await withTimeout(check(), 2000);
            return [name, 'ok'] as const;
          } catch (error) {
            request.log.warn({ err: error, dependency: name }, 'readiness check failed');
            return [name, 'unavailable'] as const;
          }
        }),
      );
      const ready = results.every(([, state]) => state === 'ok');
      const body = { status: ready ? 'ready' : 'unavailable', checks: Object.fromEntries(results) };
      if (ready) return body;
      return reply.status(503).send({ ...body, detail: 'A dependency is unavailable.', code: 'unavailable' });
    });

    app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
