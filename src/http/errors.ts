// Typed errors and the one JSON error shape of the API: every error body is built here.

export type FieldErrors = Record<string, string[]>;

export interface ErrorBody {
  detail: string;
  code: string;
  fields?: FieldErrors;
  [extra: string]: unknown;
}

/** An error meant for the client: carries its HTTP status, stable code and sentence. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly fields?: FieldErrors,
    readonly headers: Record<string, string> = {},
    readonly extra: Record<string, unknown> = {},
  ) {
    super(detail);
    this.name = new.target.name;
  }

  toBody(): ErrorBody {
    return { ...this.extra, detail: this.detail, code: this.code, ...(this.fields ? { fields: this.fields } : {}) };
  }
}

export class ValidationFailed extends HttpError {
  constructor(fields: FieldErrors, detail = 'Invalid input.') {
    super(400, 'validation_error', detail, fields);
  }
}

export class BadRequest extends HttpError {
  constructor(code: string, detail: string) {
    super(400, code, detail);
  }
}

export class Unauthorized extends HttpError {
  constructor(code = 'not_authenticated', detail = 'Authentication credentials were not provided.') {
    super(401, code, detail);
  }
}

export class Forbidden extends HttpError {
  constructor(code = 'forbidden', detail = 'You do not have permission to perform this action.') {
    super(403, code, detail);
  }
}

export class NotFound extends HttpError {
  constructor(code = 'not_found', detail = 'Not found.') {
    super(404, code, detail);
  }
}

export class RequestTimeout extends HttpError {
  constructor(detail = 'The request did not arrive in time.') {
    super(408, 'request_timeout', detail);
  }
}

export class HeadersTooLarge extends HttpError {
  constructor(detail = 'The request headers are larger than this server accepts.') {
    super(431, 'headers_too_large', detail);
  }
}

export class Conflict extends HttpError {
  constructor(code: string, detail: string, fields?: FieldErrors) {
    super(409, code, detail, fields);
  }
}

export class Gone extends HttpError {
  constructor(detail: string, extra: Record<string, unknown> = {}) {
    super(410, 'gone', detail, undefined, {}, extra);
  }
}

export class RateLimited extends HttpError {
  constructor(retryAfterSeconds: number, detail = 'Too many attempts. Try again later.') {
    const seconds = Math.max(1, Math.ceil(retryAfterSeconds));
    super(429, 'rate_limited', detail, undefined, { 'retry-after': String(seconds) }, { retry_after: seconds });
  }
}

export class ServiceUnavailable extends HttpError {
  constructor(code = 'unavailable', detail = 'A service this request needs is unavailable. Try again later.') {
    super(503, code, detail);
  }
}
