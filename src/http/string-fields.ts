// DRF's CharField takes a number as its string but refuses `true` and `false` ("Not a valid
// string."); Ajv's type coercion would store "true". Runs before validation, on the parsed body,
// against the route's body schema: a boolean where a string is expected (a field, or an item of
// a list of strings) is refused.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ValidationFailed, type FieldErrors } from './errors.js';

interface SchemaNode {
  type?: string | string[];
  anyOf?: SchemaNode[];
  items?: SchemaNode;
  properties?: Record<string, SchemaNode>;
}

const NOT_A_STRING = 'Not a valid string.';

export function refuseBooleansForStrings(app: FastifyInstance): void {
  // A plain callback hook: it runs on every request with a body, and almost always finds nothing.
  app.addHook('preValidation', (request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void) => {
    const body = request.body;
    // A raw body (a peer's transaction, read as a Buffer) has no fields: walking its bytes would cost dearly.
    if (body === null || typeof body !== 'object' || Array.isArray(body) || Buffer.isBuffer(body) || !hasBooleans(body as Record<string, unknown>)) return done();
    const properties = (request.routeOptions.schema?.body as SchemaNode | undefined)?.properties ?? {};
    const fields: FieldErrors = {};
    for (const [name, schema] of Object.entries(properties)) {
      const value = (body as Record<string, unknown>)[name];
      if (typeof value === 'boolean' && takesStringNotBoolean(schema)) fields[name] = [NOT_A_STRING];
      else if (Array.isArray(value) && schema.items && takesStringNotBoolean(schema.items) && value.some((item) => typeof item === 'boolean')) {
        fields[name] = [`Item ${value.findIndex((item) => typeof item === 'boolean') + 1}: ${NOT_A_STRING}`];
      }
    }
    done(Object.keys(fields).length > 0 ? new ValidationFailed(fields) : undefined);
  });
}

/** A boolean among the body's fields or the items of its lists. */
function hasBooleans(body: Record<string, unknown>): boolean {
  for (const key in body) {
    const value = body[key];
    if (typeof value === 'boolean' || (Array.isArray(value) && value.some((item) => typeof item === 'boolean'))) return true;
  }
  return false;
}

function typesOf(schema: SchemaNode): string[] {
  const own = schema.type === undefined ? [] : [schema.type].flat();
  return [...own, ...(schema.anyOf ?? []).flatMap(typesOf)];
}

function takesStringNotBoolean(schema: SchemaNode): boolean {
  const types = typesOf(schema);
  return types.includes('string') && !types.includes('boolean');
}
