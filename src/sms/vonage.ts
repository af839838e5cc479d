// SmsVerifier over Vonage Verify v2, authenticated with the API key and secret as HTTP Basic auth;
// every Vonage answer or failure becomes a CheckOutcome or one of the provider's typed errors.
import type { Logger } from 'pino';
import { BadRequest, ServiceUnavailable } from '../http/errors.js';
import {
  assertE164,
  isWellFormedCode,
  verificationCodeLength,
  VerificationInProgress,
  type CheckOutcome,
  type SmsVerifier,
} from './provider.js';

export interface VonageVerifierOptions {
  apiKey: string;
  apiSecret: string;
  /** Shown to the user in the SMS ("Your <brand> code is ..."). */
  brand: string;
  /** Base URL of the Vonage API; tests point it at a local fake. */
  apiUrl?: string;
  timeoutMs: number;
  logger: Logger;
}

const defaultApiUrl = 'https://api.nexmo.com';
// With a single SMS step the request lives this long; it matches the log provider's default.
const channelTimeoutSeconds = 300;

/** The RFC 7807 body of Vonage errors; a 409 adds the pending request_id, a 422 invalid_parameters. */
interface Problem {
  type?: string;
  title?: string;
  detail?: string;
  instance?: string;
  request_id?: string;
  invalid_parameters?: { name?: string; reason?: string }[];
}

interface Reply {
  status: number;
  body: Record<string, unknown>;
}

type Operation = 'start' | 'check' | 'cancel';

export class VonageVerifier implements SmsVerifier {
  readonly name = 'vonage';
  private readonly endpoint: string;
  private readonly authorization: string;
  private readonly logger: Logger;

  constructor(private readonly options: VonageVerifierOptions) {
    this.endpoint = `${(options.apiUrl ?? defaultApiUrl).replace(/\/+$/, '')}/v2/verify`;
    // Only this header carries the secret; the logger below never sees it.
    this.authorization = `Basic ${Buffer.from(`${options.apiKey}:${options.apiSecret}`).toString('base64')}`;
    this.logger = options.logger.child({ sms_provider: this.name });
  }

  async start(phoneNumber: string): Promise<{ requestId: string }> {
    assertE164(phoneNumber);
    const reply = await this.send('start', 'POST', '', {
      brand: this.options.brand,
      code_length: verificationCodeLength,
      channel_timeout: channelTimeoutSeconds,
      // Vonage wants the E.164 digits without the leading +.
      workflow: [{ channel: 'sms', to: phoneNumber.slice(1) }],
    });
    if (reply.status === 202 && typeof reply.body.request_id === 'string') return { requestId: reply.body.request_id };

    const problem = reply.body as Problem;
    if (reply.status === 409) {
      const pendingId = typeof problem.request_id === 'string' ? problem.request_id : undefined;
      this.logger.info({ operation: 'start', request_id: pendingId }, 'Vonage Verify: a verification is already pending');
      throw new VerificationInProgress(pendingId);
    }
    const rejection = reply.status === 422 || reply.status === 400 ? numberRejection(problem) : undefined;
    if (rejection) {
      this.logger.info(
        { operation: 'start', status: reply.status, title: problem.title, reason: rejection },
        'Vonage Verify rejected the phone number',
      );
      throw new BadRequest('invalid_phone_number', `The SMS provider rejected this phone number: ${rejection}`);
    }
    throw this.unavailable('start', reply);
  }

  async check(requestId: string, code: string): Promise<CheckOutcome> {
    if (!isWellFormedCode(code)) return 'invalid_code';
    const reply = await this.send('check', 'POST', `/${encodeURIComponent(requestId)}`, { code });
    switch (reply.status) {
      case 200:
        if (reply.body.status === 'completed') return 'verified';
        break;
      case 400:
        return 'invalid_code';
      case 404:
        // Vonage forgets a request once it expired, was cancelled or was verified.
        return 'expired';
      case 410:
        return 'too_many_attempts';
    }
    throw this.unavailable('check', reply);
  }

  async cancel(requestId: string): Promise<void> {
    const reply = await this.send('cancel', 'DELETE', `/${encodeURIComponent(requestId)}`);
    // A 404 means the request already ended: there is nothing left to stop.
    if (reply.status === 204 || reply.status === 404) return;
    throw this.unavailable('cancel', reply);
  }

  private async send(operation: Operation, method: 'POST' | 'DELETE', path: string, payload?: object): Promise<Reply> {
    try {
      const response = await fetch(this.endpoint + path, {
        method,
        headers: {
          authorization: this.authorization,
          accept: 'application/json',
          ...(payload ? { 'content-type': 'application/json' } : {}),
        },
        ...(payload ? { body: JSON.stringify(payload) } : {}),
        // One deadline for connecting, sending and reading the whole body.
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      return { status: response.status, body: parseObject(await response.text()) };
    } catch (error) {
      const timedOut = error instanceof Error && error.name === 'TimeoutError';
      this.logger.error(
        { operation, timeout_ms: this.options.timeoutMs, reason: timedOut ? 'timeout' : describeNetworkError(error) },
        'Vonage Verify could not be reached',
      );
      throw new ServiceUnavailable(
        'sms_unavailable',
        timedOut
          ? 'The SMS provider did not answer in time. Try again in a few minutes.'
          : 'The SMS provider could not be reached. Try again in a few minutes.',
      );
    }
  }

  private unavailable(operation: Operation, reply: Reply): ServiceUnavailable {
    const { title, detail, instance } = reply.body as Problem;
    const message =
      reply.status === 401 || reply.status === 403
        ? 'Vonage Verify refused our API key and secret (check VONAGE_API_KEY and VONAGE_API_SECRET)'
        : 'Vonage Verify answered with an error';
    this.logger.error({ operation, status: reply.status, title, detail, instance }, message);
    return new ServiceUnavailable('sms_unavailable', 'The SMS provider is unavailable right now. Try again in a few minutes.');
  }
}

/**
 * The workflow's `to` is the only field of ours a user chose, so a complaint about the workflow
 * is about the number; any other invalid parameter (the brand) is our configuration.
 */
function numberRejection(problem: Problem): string | undefined {
  const complaint = problem.invalid_parameters?.find((parameter) => parameter.name?.startsWith('workflow'));
  if (!complaint) return undefined;
  return complaint.reason ?? problem.detail ?? 'invalid number';
}

function parseObject(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** undici hides the useful part ("ECONNREFUSED") in `cause`. */
function describeNetworkError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause;
  if (cause instanceof Error) return `${error.message}: ${'code' in cause ? String(cause.code) : cause.message}`;
  return error.message;
}
