// A query's integers must be written in decimal digits. Ajv's type coercion takes "Infinity",
// "1e400", "0x10" and " 5" for integers, and then skips their bounds (it checks minimum and
// maximum on finite numbers only): `limit=Infinity` reached SQL. Runs before validation, on the
// query's raw strings, against the route's querystring schema.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ValidationFailed, type FieldErrors } from './errors.js';

interface QuerySchema {
  properties?: Record<string, { type?: unknown }>;
}

const NOT_AN_INTEGER = 'Must be of type integer.';
/** Up to fifteen digits: every such number is exact as a JavaScript number. */
const DECIMAL_INTEGER = /^-?[0-9]{1,15}$/;

export function refuseLooseQueryIntegers(app: FastifyInstance): void {
  const integerFields = new WeakMap<object, string[]>();
  app.addHook('preValidation', (request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void) => {
    const schema = request.routeOptions.schema?.querystring as QuerySchema | undefined;
    if (!schema) return done();
    let names = integerFields.get(schema);
    if (!names) integerFields.set(schema, (names = Object.keys(schema.properties ?? {}).filter((name) => schema.properties![name]!.type === 'integer')));
    const query = request.query as Record<string, unknown>;
    const fields: FieldErrors = {};
    for (const name of names) {
      const value = query[name];
      if (typeof value === 'string' && !DECIMAL_INTEGER.test(value)) fields[name] = [NOT_AN_INTEGER];
    }
    done(Object.keys(fields).length > 0 ? new ValidationFailed(fields) : undefined);
  });
}
