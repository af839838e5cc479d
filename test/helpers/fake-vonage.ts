// A local stand-in for Vonage Verify v2 (POST /v2/verify, POST and DELETE /v2/verify/{id}) speaking
// its wire format: Basic auth, JSON requests, RFC 7807 problem bodies, and failures on demand.
import { randomInt, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeVonageOptions {
  apiKey?: string;
  apiSecret?: string;
  /** Wrong codes Vonage accepts before it terminates the workflow (410). */
  maxWrongCodes?: number;
  /** Well-formed numbers (E.164 digits, no +) that Vonage still rejects with a 422. */
  invalidNumbers?: string[];
}

export type Failure =
  /** Answer the next request with this status and body instead of handling it. */
  | { status: number; body?: unknown; contentType?: string }
  /** Never answer the next request (it is not handled either). */
  | { hang: true }
  /** Handle the next request, then drop the connection instead of answering: the caller never learns the result. */
  | { dropResponse: true };

export interface ReceivedRequest {
  method: string;
  path: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: unknown;
}

export interface SentCode {
  requestId: string;
  to: string;
  brand: string;
  code: string;
}

export interface FakeVonage {
  url: string;
  apiKey: string;
  apiSecret: string;
  /** Every request received, in order. */
  requests: ReceivedRequest[];
  /** Every code "sent" by SMS, in order. */
  sent: SentCode[];
  /** The last code sent to a number, given with or without its +. */
  lastCode(phoneNumber: string): string | undefined;
  /** Lets a pending request run out, as when its channel_timeout passes. */
  expire(requestId: string): void;
  failNext(failure: Failure): void;
  close(): Promise<void>;
}

interface Verification {
  to: string;
  code: string;
  wrongCodes: number;
}

const json = 'application/json';
const problemJson = 'application/problem+json';
const to = /^[1-9][0-9]{6,14}$/;
// Vonage escapes brands with this pattern and answers 422 to one that fails it.
const brandPattern = /^[^/{}:$]*$/;

export async function startFakeVonage(options: FakeVonageOptions = {}): Promise<FakeVonage> {
  const apiKey = options.apiKey ?? 'fake-api-key';
  const apiSecret = options.apiSecret ?? 'fake-api-secret';
  const maxWrongCodes = options.maxWrongCodes ?? 3;
  const invalidNumbers = new Set(options.invalidNumbers ?? []);
  const expectedAuthorization = `Basic ${Buffer.from(`${apiKey}:${apiSecret}`).toString('base64')}`;

  const verifications = new Map<string, Verification>();
  const requests: ReceivedRequest[] = [];
  const sent: SentCode[] = [];
  const failures: Failure[] = [];

  const server = createServer((request, response) => {
    void readBody(request).then((raw) => {
      const body = parseJson(raw);
      const path = new URL(request.url ?? '/', 'http://fake').pathname;
      requests.push({
        method: request.method ?? '',
        path,
        authorization: request.headers.authorization,
        contentType: request.headers['content-type'],
        body,
      });

      const failure = failures.shift();
      if (failure && 'hang' in failure) return;
      if (failure && 'status' in failure) {
        return send(response, failure.status, failure.body, failure.contentType ?? problemJson);
      }
      const answer = handle(request.method ?? '', path, request.headers, body);
      if (failure && 'dropResponse' in failure) {
        response.socket?.destroy();
        return;
      }
      send(response, answer.status, answer.body, answer.status < 300 ? json : problemJson);
    }, () => response.destroy());
  });

  function handle(method: string, path: string, headers: IncomingMessage['headers'], body: unknown): Answer {
    if (headers.authorization !== expectedAuthorization) {
      return problem(401, 'unauthorized', 'Unauthorized', 'You did not provide correct credentials.');
    }
    if (path === '/v2/verify' && method === 'POST') return startVerification(headers, body);
    const match = /^\/v2\/verify\/([^/]+)$/.exec(path);
    if (match) {
      const requestId = decodeURIComponent(match[1]!);
      if (method === 'POST') return checkCode(requestId, headers, body);
      if (method === 'DELETE') return cancelVerification(requestId);
    }
    return problem(404, 'not-found', 'Not Found', 'The requested resource does not exist, or you do not have access to it.');
  }

  function startVerification(headers: IncomingMessage['headers'], body: unknown): Answer {
    if (!isJson(headers) || !isRecord(body)) return invalidParams([{ name: 'body', reason: 'must be a JSON object' }]);
    const { brand, workflow, code_length: codeLength = 4, channel_timeout: channelTimeout = 300 } = body;
    if (typeof brand !== 'string' || brand.length < 1 || brand.length > 18 || !brandPattern.test(brand)) {
      return invalidParams([{ name: 'brand', reason: '`brand` is invalid' }]);
    }
    if (!isIntegerBetween(codeLength, 4, 10)) {
      return invalidParams([{ name: 'code_length', reason: '`code_length` must be between 4 and 10' }]);
    }
    if (!isIntegerBetween(channelTimeout, 15, 900)) {
      return invalidParams([{ name: 'channel_timeout', reason: '`channel_timeout` must be between 15 and 900' }]);
    }
    if (!Array.isArray(workflow) || workflow.length < 1 || workflow.length > 3) {
      return invalidParams([{ name: 'workflow', reason: '`workflow` must hold 1 to 3 channels' }]);
    }
    const [step] = workflow as unknown[];
    if (!isRecord(step) || step.channel !== 'sms') {
      return invalidParams([{ name: 'workflow[0]', reason: '`channel` must be sms' }]);
    }
    if (typeof step.to !== 'string' || !to.test(step.to) || invalidNumbers.has(step.to)) {
      return invalidParams([{ name: 'workflow[0]', reason: '`to` Phone number is invalid' }]);
    }

    for (const [pendingId, pending] of verifications) {
      if (pending.to === step.to) {
        return {
          status: 409,
          body: {
            ...problemBody('verify#conflict', 'Conflict', 'Concurrent verifications to the same number are not allowed.'),
            request_id: pendingId,
          },
        };
      }
    }
    const requestId = randomUUID();
    const code = String(randomInt(10 ** codeLength)).padStart(codeLength, '0');
    verifications.set(requestId, { to: step.to, code, wrongCodes: 0 });
    sent.push({ requestId, to: step.to, brand, code });
    return { status: 202, body: { request_id: requestId } };
  }

  function checkCode(requestId: string, headers: IncomingMessage['headers'], body: unknown): Answer {
    const verification = verifications.get(requestId);
    if (!verification) return notFound(requestId);
    if (!isJson(headers) || !isRecord(body) || typeof body.code !== 'string') {
      return invalidParams([{ name: 'code', reason: '`code` is required' }]);
    }
    if (body.code === verification.code) {
      verifications.delete(requestId);
      return { status: 200, body: { request_id: requestId, status: 'completed' } };
    }
    verification.wrongCodes += 1;
    if (verification.wrongCodes >= maxWrongCodes) {
      verifications.delete(requestId);
      return problem(410, 'gone', 'Invalid Code', 'An incorrect code has been provided too many times. Workflow terminated.');
    }
    return problem(400, 'bad-request', 'Invalid Code', 'The code you provided does not match the expected value.');
  }

  function cancelVerification(requestId: string): Answer {
    if (!verifications.delete(requestId)) return notFound(requestId);
    return { status: 204 };
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    apiKey,
    apiSecret,
    requests,
    sent,
    lastCode(phoneNumber) {
      const digits = phoneNumber.replace(/^\+/, '');
      return sent.findLast((code) => code.to === digits)?.code;
    },
    expire(requestId) {
      verifications.delete(requestId);
    },
    failNext(failure) {
      failures.push(failure);
    },
    close() {
      // Hung requests would keep close() waiting forever.
      server.closeAllConnections();
      return new Promise((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}

interface Answer {
  status: number;
  body?: unknown;
}

function problemBody(anchor: string, title: string, detail: string): Record<string, string> {
  return { type: `https://developer.vonage.com/api-errors#${anchor}`, title, detail, instance: randomUUID() };
}

function problem(status: number, anchor: string, title: string, detail: string): Answer {
  return { status, body: problemBody(anchor, title, detail) };
}

function invalidParams(invalidParameters: { name: string; reason: string }[]): Answer {
  return {
    status: 422,
    body: {
      ...problemBody('invalid-params', 'Invalid params', 'The value of one or more parameters is invalid'),
      invalid_parameters: invalidParameters,
    },
  };
}

function notFound(requestId: string): Answer {
  return problem(404, 'not-found', 'Not Found', `Request '${requestId}' was not found or it has been verified already.`);
}

function send(response: ServerResponse, status: number, body: unknown, contentType: string): void {
  if (body === undefined) {
    response.writeHead(status).end();
    return;
  }
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  response.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text) }).end(text);
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function parseJson(raw: string): unknown {
  if (raw === '') return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

function isJson(headers: IncomingMessage['headers']): boolean {
  return headers['content-type']?.split(';')[0]?.trim() === json;
}

function isIntegerBetween(value: unknown, min: number, max: number): value is number {
  return Number.isInteger(value) && (value as number) >= min && (value as number) <= max;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
