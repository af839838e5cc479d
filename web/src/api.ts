// The RealChat HTTP API as the client uses it: typed calls over fetch, errors as ApiError.
// Everything here follows shared/spec/api.md; nothing else in the client builds a request.
import type { Static } from 'typebox';
// Type-only: the server's own schemas (these three files import nothing but typebox), so the
// client's types cannot drift from what the server sends; nothing of them reaches the bundle.
import type { GroupListSchema, GroupMemberSchema, GroupSchema } from '../../src/groups/schemas.js';
import type { ConversationPage, GroupSummary as GroupSummarySchema, MessagePage, MessageSchema, SendAnswer as SendAnswerSchema } from '../../src/messages/schemas.js';
import type { PhoneVerified, VerificationStarted } from '../../src/sms/schemas.js';

/** A message; in a group (`group` set) its `receiver` is null. */
export type Message = Static<typeof MessageSchema>;
/** A row of the conversations list: a partner (`with`) or a group. */
export type Conversation = Static<typeof ConversationPage>['results'][number];
export type SendAnswer = Static<typeof SendAnswerSchema>;
export type Group = Static<typeof GroupSchema>;
export type GroupMember = Static<typeof GroupMemberSchema>;
export type Role = GroupMember['role'];
/** A group as the groups list has it: its members counted, not named. */
export type ListedGroup = Static<typeof GroupListSchema>['results'][number];
/** A group as a row of the conversations list names it. */
export type GroupSummary = Static<typeof GroupSummarySchema>;

/** Where a message goes: a person or a group, exactly one of the two. */
export type SendTarget = { receiver: string } | { group: string };
/** A change asked of a group whose home is another backend that could not answer in time (202): the home applies it when it can. */
export interface QueuedChange {
  status: 'queued';
}

/** A page of a list, newest first or oldest first as the endpoint says; `next` is an opaque cursor. */
export interface Page<T> {
  results: T[];
  next: Static<typeof MessagePage>['next'];
}

// The accounts and presence schemas sit beside server-only code (argon2, fastify), which the
// web build must not follow: these are written out. test/web/api-types.test.ts holds User and
// AuthAnswer to the server's schemas; Presence follows spec/api.md (its schema is not exported).
export interface User {
  id: number;
  username: string;
  email: string;
  phone_number: string | null;
  phone_verified: boolean;
  date_joined: string;
}

export interface Presence {
  status: 'online' | 'offline';
  last_seen: string | null;
}

export interface AuthAnswer {
  message: string;
  token: string;
  user: User;
}

export type FieldErrors = Record<string, string[]>;

/** An API error body ({"detail","code","fields"}), or a network failure (status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly fields: FieldErrors = {},
  ) {
    super(detail);
    this.name = 'ApiError';
  }

  /** Worth trying again with the same request: the network, the server, or a rate limit. */
  get transient(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

export interface RegisterForm {
  username: string;
  email: string;
  password: string;
  phone_number?: string;
}

export class Api {
  constructor(
    private readonly token: string | null,
    /** Called when the server no longer accepts the token (401 on an authenticated call). */
    private readonly onUnauthorized: () => void = () => {},
  ) {}

  register(form: RegisterForm): Promise<AuthAnswer> {
    return this.request('POST', '/accounts/register/', form);
  }

  login(username: string, password: string): Promise<AuthAnswer> {
    return this.request('POST', '/accounts/login/', { username, password });
  }

  logout(): Promise<void> {
    return this.request('POST', '/accounts/logout/');
  }

  me(): Promise<User> {
    return this.request('GET', '/accounts/me/');
  }

  updateMe(changes: { phone_number?: string | null }): Promise<User> {
    return this.request('PATCH', '/accounts/me/', changes);
  }

  startPhoneVerification(): Promise<Static<typeof VerificationStarted>> {
    return this.request('POST', '/accounts/phone/verify/');
  }

  checkPhoneCode(code: string): Promise<Static<typeof PhoneVerified>> {
    return this.request('POST', '/accounts/phone/verify/check/', { code });
  }

  conversations(before?: string): Promise<Page<Conversation>> {
    return this.request('GET', `/accounts/conversations/${query({ before })}`);
  }

  /** One page of a conversation (named by `with` or `group`), newest first. */
  history(conversation: Record<string, string>, before?: string): Promise<Page<Message>> {
    return this.request('GET', `/accounts/messages/${query({ ...conversation, before })}`);
  }

  /** Every message of the caller with an id above `after`, oldest first. */
  messagesAfter(after: number): Promise<Page<Message>> {
    return this.request('GET', `/accounts/messages/${query({ after: String(after), limit: '200' })}`);
  }

  send(to: SendTarget, text: string, clientId: string): Promise<SendAnswer> {
    return this.request('POST', '/accounts/send-message/', { message: text, ...to, client_id: clientId });
  }

  /** Online state of the named users who are conversation partners (others are left out). */
  presence(users: string[]): Promise<Record<string, Presence>> {
    return this.request('GET', `/accounts/presence/${query({ users: users.join(',') })}`);
  }

  markRead(id: number): Promise<Message> {
    return this.request('POST', `/accounts/messages/${id}/read/`);
  }

  createGroup(name: string, members: string[]): Promise<Group> {
    return this.request('POST', '/accounts/groups/', { name, members });
  }

  groups(): Promise<{ results: ListedGroup[] }> {
    return this.request('GET', '/accounts/groups/');
  }

  group(id: string): Promise<Group> {
    return this.request('GET', groupPath(id));
  }

  renameGroup(id: string, name: string): Promise<Group | QueuedChange> {
    return this.request('PATCH', groupPath(id), { name });
  }

  addMember(id: string, user: string): Promise<Group | QueuedChange> {
    return this.request('POST', `${groupPath(id)}members/`, { user });
  }

  setRole(id: string, user: string, role: Exclude<Role, 'owner'>): Promise<Group | QueuedChange> {
    return this.request('PATCH', memberPath(id, user), { role });
  }

  /** Removes a member, or, for the caller themself, leaves the group. */
  removeMember(id: string, user: string): Promise<QueuedChange | undefined> {
    return this.request('DELETE', memberPath(id, user));
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token) headers.authorization = `Token ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(path, { method, headers, body: body === undefined ? null : JSON.stringify(body) });
    } catch {
      throw new ApiError(0, 'network_error', 'Could not reach the server. Check your connection.');
    }
    if (response.status === 204) return undefined as T;
    const parsed: unknown = await response.json().catch(() => null);
    if (response.ok) return parsed as T;
    const error = errorFrom(response.status, parsed);
    if (response.status === 401 && this.token) this.onUnauthorized();
    throw error;
  }
}

function errorFrom(status: number, body: unknown): ApiError {
  const shape = (body ?? {}) as { detail?: unknown; code?: unknown; fields?: unknown };
  const detail = typeof shape.detail === 'string' ? shape.detail : `The server answered ${status}.`;
  const code = typeof shape.code === 'string' ? shape.code : 'http_error';
  const fields = typeof shape.fields === 'object' && shape.fields !== null ? (shape.fields as FieldErrors) : {};
  return new ApiError(status, code, detail, fields);
}

function groupPath(id: string): string {
  return `/accounts/groups/${encodeURIComponent(id)}/`;
}

function memberPath(id: string, user: string): string {
  return `${groupPath(id)}members/${encodeURIComponent(user)}/`;
}

function query(params: Record<string, string | undefined>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined) search.set(name, value);
  const text = search.toString();
  return text ? `?${text}` : '';
}
