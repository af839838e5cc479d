// Refuses control characters in request input before any route sees it: U+0000 anywhere (DRF's
// "Null characters are not allowed."; PostgreSQL cannot store it in text) and lone surrogates,
// and every other control character in names, addresses, codes and ids; prose keeps its tabs
// and line breaks.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ValidationFailed, type FieldErrors } from './errors.js';

/** Message text: tabs and line breaks may appear there (multi-line messages). */
const PROSE_FIELDS = new Set(['message', 'content']);
const CONTROL_IN_PROSE = /(?![\t\n\r])\p{Cc}/u;
/** Passwords are only hashed, never stored or shown: any character but U+0000 may be part of one. */
const SECRET_FIELDS = new Set(['password', 'current_password']);
const CONTROL_CHARACTER = /\p{Cc}/u;

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

/**
 * For what arrives sealed from peers (never seen by the hook): why a message text (`prose`) or a
 * name may not be stored, if it may not.
 */
export function controlCharactersIn(text: string, kind: 'prose' | 'name'): string | undefined {
  return controlCharacterProblem(text, kind === 'prose' ? 'message' : '');
}

// Half of a UTF-16 pair alone (JSON's "\ud800"): no character at all; stored as UTF-8 it would
// come back as U+FFFD, so what a client was answered and what it reads later would differ.
const LONE_SURROGATE = /\p{Cs}/u;

function controlCharacterProblem(text: string, field: string): string | undefined {
  if (text.includes('\u0000')) return 'Null characters are not allowed.';
  if (LONE_SURROGATE.test(text)) return 'Lone surrogates are not allowed: send valid Unicode.';
  if (SECRET_FIELDS.has(field)) return undefined;
  const control = PROSE_FIELDS.has(field) ? CONTROL_IN_PROSE : CONTROL_CHARACTER;
  return control.test(text) ? 'Control characters are not allowed.' : undefined;
}
