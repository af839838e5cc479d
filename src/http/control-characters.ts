// Refuses control characters in request input before any route sees it, by the rules of
// unicode/control-characters.ts, each field by its name.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { controlCharacterProblem } from '../unicode/control-characters.js';
import { ValidationFailed, type FieldErrors } from './errors.js';

/**
 * Runs as the first preHandler of every route: after the body is parsed and validated (peers'
 * sealed bodies are opened by then, and a route's token checked) and before any query.
 */
export function refuseControlCharacters(app: FastifyInstance): void {
  // A plain callback hook, not an async one: it runs on every request.
  app.addHook('preHandler', (request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void) => {
    const fields: FieldErrors = {};
    for (const input of [request.params, request.query, request.body]) collectControlCharacters(input, fields);
    done(Object.keys(fields).length > 0 ? new ValidationFailed(fields) : undefined);
  });
}

/**
 * Walks the input with a stack of its own rather than by recursion: a body nested thousands deep
 * (a few KB of brackets) would otherwise overflow the call stack. `field` is what follows the last
 * dot of `path` (the rules depend on what the field is, wherever it sits).
 */
function collectControlCharacters(input: unknown, fields: FieldErrors): void {
  const pending: [value: unknown, path: string, field: string][] = [[input, '', '']];
  while (pending.length > 0) {
    const [value, path, field] = pending.pop()!;
    if (typeof value === 'string') {
      const problem = controlCharacterProblem(value, field);
      if (problem) (fields[path || 'non_field_errors'] ??= []).push(problem);
    } else if (Array.isArray(value)) {
      // Last first onto the stack, so that problems are reported in the input's order.
      for (let index = value.length - 1; index >= 0; index--) pending.push([value[index], path ? `${path}.${index}` : String(index), String(index)]);
    } else if (value !== null && typeof value === 'object' && !Buffer.isBuffer(value)) {
      const keys = Object.keys(value);
      for (let index = keys.length - 1; index >= 0; index--) {
        const key = keys[index]!;
        pending.push([(value as Record<string, unknown>)[key], path ? `${path}.${key}` : key, key.slice(key.lastIndexOf('.') + 1)]);
      }
    }
  }
}
