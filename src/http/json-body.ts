// The JSON body parser: Fastify's own, except that an empty body is no data, as DRF reads it, so
// `Content-Type: application/json` with nothing after it is never malformed JSON: a route whose
// body is optional answers as without one, others name the missing fields. A `__proto__` or
// `constructor.prototype` key is valid JSON: it is dropped (it would poison prototypes), not refused.
import type { FastifyInstance } from 'fastify';
import { bodyText } from './body-text.js';

export function installJsonBodyParser(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('remove', 'remove');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    let text: string;
    try {
      text = bodyText(body as Buffer);
    } catch (error) {
      return done(error as Error, undefined);
    }
    if (text.length === 0) done(null, {});
    else parseJson(request, text, done);
  });
}
