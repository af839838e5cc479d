// Turns every error, ours and Fastify's, into the API's one JSON error shape.
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isStoreUnavailable } from '../db/unavailable.js';
import { AllowedMethods } from './allowed-methods.js';
import { BadRequest, HeadersTooLarge, HttpError, RequestTimeout, ServiceUnavailable, type FieldErrors } from './errors.js';

/** The API's codes for what a library refuses (a path out of the web client's folder is 403). */
const LIBRARY_CODES: Record<number, string> = { 403: 'forbidden', 404: 'not_found' };

export interface ValidationIssue {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: Record<string, unknown>;
}

const FASTIFY_CODES: Record<string, { status: number; code: string; detail: string }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'malformed_json', detail: 'The body is not valid JSON.' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'malformed_json', detail: 'The body is empty; send a JSON object.' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'unsupported_media_type', detail: 'Send the body as application/json.' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'bad_request', detail: 'The Content-Length does not match the body.' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'payload_too_large', detail: 'The body is larger than this server accepts.' },
  FST_ERR_CTP_INVALID_TYPE: { status: 400, code: 'bad_request', detail: 'The Content-Type header is not valid.' },
  FST_ERR_BAD_URL: { status: 400, code: 'bad_request', detail: 'The URL is not valid.' },
  FST_ERR_ASYNC_CONSTRAINT: { status: 400, code: 'bad_request', detail: 'The request could not be routed.' },
};

/**
 * DRF-style field errors from Ajv issues: `{"username": ["This field is required."]}`, each under
 * the body's own field (an entry of a list under the list, `members`, saying which item), each
 * message once; the bare "matches no alternative" of a union only when nothing says more.
 */
export function fieldsFromValidation(issues: ValidationIssue[], context?: string): FieldErrors {
  const fields: FieldErrors = {};
  const vague = new Map<string, string>();
  for (const issue of issues) {
    const [top, item] = (issue.instancePath ?? '').split('/').slice(1);
    const missing = issue.keyword === 'required' ? String(issue.params?.missingProperty ?? issue.params?.requiredProperties ?? '') : '';
    const field = top || missing || context || 'non_field_errors';
    const text = item !== undefined && /^\d+$/.test(item) ? `Item ${Number(item) + 1}: ${describeIssue(issue)}` : describeIssue(issue);
    if (issue.keyword === 'anyOf') vague.set(field, text);
    else if (!fields[field]?.includes(text)) (fields[field] ??= []).push(text);
  }
  for (const [field, text] of vague) fields[field] ??= [text];
  return fields;
}

function describeIssue(issue: ValidationIssue): string {
  switch (issue.keyword) {
    case 'required':
      return 'This field is required.';
    case 'additionalProperties':
      return `Unknown field "${String(issue.params?.additionalProperty ?? '')}".`;
    case 'type':
      return `Must be of type ${String(issue.params?.type ?? 'the documented type')}.`;
    case 'minLength':
      return `Ensure this field has at least ${String(issue.params?.limit)} characters.`;
    case 'maxLength':
      return `Ensure this field has no more than ${String(issue.params?.limit)} characters.`;
    case 'minimum':
      return `Ensure this value is greater than or equal to ${String(issue.params?.limit)}.`;
    case 'maximum':
      return `Ensure this value is less than or equal to ${String(issue.params?.limit)}.`;
    default:
      return issue.message ? `Invalid value: ${issue.message}.` : 'Invalid value.';
  }
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof HttpError) {
      return reply.status(error.status).headers(error.headers).send(error.toBody());
    }
    if (error.validation) {
      const context = error.validationContext === 'body' ? undefined : error.validationContext;
      return reply.status(400).send({
        detail: 'Invalid input.',
        code: 'validation_error',
        fields: fieldsFromValidation(error.validation as ValidationIssue[], context),
      });
    }
    const known = error.code ? FASTIFY_CODES[error.code] : undefined;
    if (known) return reply.status(known.status).send({ detail: known.detail, code: known.code });
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      return reply.status(status).send({ detail: 'The request could not be processed.', code: LIBRARY_CODES[status] ?? 'bad_request' });
    }
    if (isStoreUnavailable(error)) {
      request.log.warn({ err: error }, 'a store this request needs is unavailable');
      const unavailable = new ServiceUnavailable();
      return reply.status(unavailable.status).send(unavailable.toBody());
    }
    request.log.error({ err: error }, 'unhandled error');
    return reply.status(500).send({ detail: 'Internal server error.', code: 'internal_error' });
  });

  const allowed = new AllowedMethods();
  allowed.install(app);
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    const methods = allowed.of(path);
    // A route that chose to answer 404 (/metrics to an address not allowed) has the request's own method.
    if (methods.length > 0 && !methods.includes(request.method)) {
      return reply.status(405).header('allow', methods.join(', ')).send({ detail: `Method "${request.method}" not allowed.`, code: 'method_not_allowed' });
    }
    return reply.status(404).send({ detail: `No route for ${request.method} ${path}.`, code: 'not_found' });
  });
}

/**
 * A request that still arrives while the server closes (pipelined, or on a kept-alive connection
 * that was busy) is answered 503 `unavailable` with `Retry-After` and the connection closed, as
 * Fastify would, but in the API's error shape: its handler could meet a database being closed.
 */
export function shedWhileClosing(app: FastifyInstance): void {
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  app.addHook('onRequest', (_request, reply, done) => {
    if (!closing) return done();
    void reply.status(503).headers({ 'retry-after': '1', connection: 'close' }).send({ detail: 'The server is shutting down; try again in a moment.', code: 'unavailable' });
  });
}

/** Fastify's `frameworkErrors`: a URL it cannot decode (`/accounts/messages/%ff/`) is refused before routing, in the API's shape. */
export function answerFrameworkError(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const known = FASTIFY_CODES[error.code] ?? { status: 400, code: 'bad_request', detail: 'The request could not be processed.' };
  void reply.status(known.status).send({ detail: known.detail, code: known.code });
}

/**
 * Fastify's `clientErrorHandler`: Node reports a request it could not read (too slow, headers
 * too large, not HTTP) on the socket, before any route runs, so the answer is written there,
 * in the API's shape, and the connection closed.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  // A reset connection has no one left to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const answer =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? new RequestTimeout()
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? new HeadersTooLarge()
        : new BadRequest('bad_request', 'The request is not valid HTTP.');
  const body = JSON.stringify(answer.toBody());
  // As Node's own handler does: a response whose headers have gone out must not get a second one inside it.
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && !inFlight?.headersSent) {
    socket.write(
      `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status]}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/**
 * Node answers an HTTP/1.1 request without a Host header, and an `Expect` other than
 * `100-continue`, with an empty 400 or 417 of its own: these are answered in the API's shape
 * (with `requireHostHeader` off, so that the request reaches the hook).
 */
export function answerMalformedRequests(app: FastifyInstance): void {
  app.addHook('onRequest', (request, _reply, done) => {
    done(request.raw.httpVersion === '1.1' && request.headers.host === undefined ? new BadRequest('bad_request', 'An HTTP/1.1 request must carry a Host header.') : undefined);
  });
  app.server.on('checkExpectation', (_request: IncomingMessage, response: ServerResponse) => {
    const body = JSON.stringify({ detail: 'Only "Expect: 100-continue" is understood.', code: 'expectation_failed' });
    response.writeHead(417, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' });
    response.end(body);
  });
}
