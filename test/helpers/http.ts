// A small JSON client over fetch for talking to a test app the way a real client does.
export interface JsonResponse<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
}

export interface RequestOptions {
  token?: string;
  headers?: Record<string, string>;
  /** A raw body sent as is (no JSON encoding). */
  raw?: string | Buffer;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read response fields freely
export async function call<T = any>(baseUrl: string, method: string, path: string, body?: unknown, options: RequestOptions = {}): Promise<JsonResponse<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Token ${options.token}`;
  let payload: string | Buffer | undefined;
  if (options.raw !== undefined) payload = options.raw;
  else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(baseUrl + path, { method, headers, ...(payload !== undefined ? { body: payload } : {}) });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // Not JSON: the test sees the raw text.
  }
  return { status: response.status, headers: response.headers, body: parsed as T };
}

export interface RegisteredUser {
  id: number;
  username: string;
  token: string;
}

let counter = 0;

/** Registers a user with a valid password and returns its token. */
export async function registerUser(baseUrl: string, username?: string): Promise<RegisteredUser> {
  const name = username ?? `user${process.pid}x${++counter}`;
  const response = await call(baseUrl, 'POST', '/accounts/register/', {
    username: name,
    email: `${name}@example.org`,
    password: 'a long and quiet river',
  });
  if (response.status !== 201) throw new Error(`register ${name}: ${response.status} ${JSON.stringify(response.body)}`);
  return { id: response.body.user.id, username: name, token: response.body.token };
}
