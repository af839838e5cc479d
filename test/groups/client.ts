// The groups API as tests call it: create, read and change groups, send and read their messages;
// and a suite's app with its database open beside it, for counting rows.
import type { RawBuilder } from 'kysely';
import { afterAll, beforeAll, expect } from 'vitest';
import type { Environment } from '../../src/config.js';
import { openDatabase, type Database } from '../../src/db/database.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import type { DatabaseKind } from '../helpers/databases.js';
import { call, registerUser, type JsonResponse, type RegisteredUser } from '../helpers/http.js';

export interface GroupMember {
  user: string;
  role: 'owner' | 'admin' | 'member';
  joined_at: string;
  read_up_to: number | null;
}

export interface Group {
  id: string;
  name: string;
  home: string;
  created_at: string;
  members: GroupMember[];
}

export interface GroupMessage {
  id: number;
  sender: string;
  receiver: null;
  group: string;
  message: string;
  deleted: boolean;
  edited_at: string | null;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read response fields freely
export type Answer = JsonResponse<any>;

/** The client of the app at `url` (or at the url a function gives when called: a suite's app starts later). */
export function groupsClient(url: string | (() => string)) {
  const base = typeof url === 'string' ? () => url : url;
  const as = (user: RegisteredUser, method: string, path: string, body?: unknown): Promise<Answer> => call(base(), method, path, body, { token: user.token });
  return {
    as,
    create: (owner: RegisteredUser, name: string, members: RegisteredUser[] | string[]) =>
      as(owner, 'POST', '/accounts/groups/', { name, members: members.map((member) => (typeof member === 'string' ? member : member.username)) }),
    /** Creates a group and answers it, failing the test on anything but 201. */
    async group(owner: RegisteredUser, name: string, members: RegisteredUser[]): Promise<Group> {
      const created = await as(owner, 'POST', '/accounts/groups/', { name, members: members.map((member) => member.username) });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      return created.body as Group;
    },
    show: (user: RegisteredUser, id: string) => as(user, 'GET', `/accounts/groups/${id}/`),
    rename: (user: RegisteredUser, id: string, name: string) => as(user, 'PATCH', `/accounts/groups/${id}/`, { name }),
    add: (user: RegisteredUser, id: string, member: RegisteredUser | string) => as(user, 'POST', `/accounts/groups/${id}/members/`, { user: typeof member === 'string' ? member : member.username }),
    role: (user: RegisteredUser, id: string, member: RegisteredUser, role: string) => as(user, 'PATCH', `/accounts/groups/${id}/members/${encodeURIComponent(member.username)}/`, { role }),
    remove: (user: RegisteredUser, id: string, member: RegisteredUser) => as(user, 'DELETE', `/accounts/groups/${id}/members/${encodeURIComponent(member.username)}/`),
    send: (user: RegisteredUser, id: string, message: string, extra: Record<string, unknown> = {}) => as(user, 'POST', '/accounts/send-message/', { message, group: id, ...extra }),
    /** Sends and answers the new message's id, failing the test on anything but 201. */
    async sent(user: RegisteredUser, id: string, message: string): Promise<number> {
      const sent = await as(user, 'POST', '/accounts/send-message/', { message, group: id });
      expect(sent.status, JSON.stringify(sent.body)).toBe(201);
      return sent.body.id as number;
    },
    history: (user: RegisteredUser, id: string, query = '') => as(user, 'GET', `/accounts/messages/?group=${id}${query}`),
    conversations: (user: RegisteredUser) => as(user, 'GET', '/accounts/conversations/'),
  };
}

export type GroupsClient = ReturnType<typeof groupsClient>;

export interface GroupsSuite {
  app: TestApp;
  db: Database;
  groups: GroupsClient;
  /** Registers users. */
  users(count: number): Promise<RegisteredUser[]>;
  /** The number a `select count(*) as n ...` answers. */
  count(query: RawBuilder<unknown>): Promise<number>;
}

/** Starts an app for the suite (before its tests, stopped after them), with its database open beside it. */
export function groupsSuite(database: DatabaseKind, env: Environment = {}): GroupsSuite {
  const suite = {
    groups: groupsClient(() => suite.app.url),
    users: (count: number) => Promise.all(Array.from({ length: count }, () => registerUser(suite.app.url))),
    count: async (query: RawBuilder<unknown>) => Number(((await query.execute(suite.db.db)).rows[0] as { n: number | string }).n),
  } as GroupsSuite;
  beforeAll(async () => {
    suite.app = await startTestApp({ database, env });
    suite.db = openDatabase(suite.app.config.database);
  });
  afterAll(async () => {
    await suite.db?.close();
    await suite.app?.destroy();
  });
  return suite;
}
