// Three peered backends (a, b, c) for the tests of groups across backends: users on each, the
// groups API on each backend as its users call it, addresses as each backend writes them, every
// member's view of a group and its history, WebSockets that keep every frame, a group's stored
// version, and transactions signed as one backend to another (a forging peer).
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { startBackends, type Backend, type BackendsOptions } from '../../helpers/backends.js';
import type { DatabaseKind } from '../../helpers/databases.js';
import { registerUser, type RegisteredUser } from '../../helpers/http.js';
import { openSocket, type TestSocket } from '../../realtime/socket.js';
import { groupsClient, type Answer, type Group, type GroupsClient } from '../../groups/client.js';
import { postTransaction, transactionRequest } from '../transactions/peer-transactions.js';
import { eventually } from '../peer-requests.js';

export { eventually };

export type Frame = Record<string, unknown>;

/** Where a user lives: a backend's name and the URL to reach it (one instance of it). */
export interface Site {
  name: string;
  url: string;
}

/** A user of one backend, with the groups API of that backend. */
export interface Person extends RegisteredUser {
  backend: Site;
  /** `name@server`: the address every other backend writes. */
  address: string;
  api: GroupsClient;
}

export interface Trio {
  a: Backend;
  b: Backend;
  c: Backend;
  all: Backend[];
}

/**
 * A short FEDERATION_TIMEOUT keeps a request asked while the home is down short (202 queued
 * after it); retries start at once (random 0) so a backend that comes back is caught up quickly.
 */
export async function startTrio(kind: DatabaseKind = 'sqlite', options: BackendsOptions = {}): Promise<Trio> {
  const all = await startBackends(kind, ['a', 'b', 'c'], {
    ...options,
    env: { FEDERATION_TIMEOUT: '2s', SEND_RATE: 'off', ...options.env },
    server: { ...options.server, outbox: { random: () => 0, pollIntervalMs: 50, ...options.server?.outbox } },
  });
  const [a, b, c] = all as [Backend, Backend, Backend];
  return { a, b, c, all };
}

export interface TrioSuite {
  trio: Trio;
  /** Sockets a test opened: closed after it. */
  open: TestSocket[];
}

/**
 * A trio for a suite's tests, on SQLite: started before them and destroyed after; after each
 * test its sockets are closed and any backend it stopped is started again.
 */
export function trioSuite(options: BackendsOptions = {}): TrioSuite {
  const suite = { open: [] } as unknown as TrioSuite;
  beforeAll(async () => {
    suite.trio = await startTrio('sqlite', options);
  });
  afterEach(async () => {
    await Promise.all(suite.open.splice(0).map((socket) => socket.close()));
    for (const backend of suite.trio.all) if (!backend.running) await backend.start();
  });
  afterAll(async () => {
    await Promise.all(suite.trio?.all.map((backend) => backend.destroy()) ?? []);
  });
  return suite;
}

export async function person(backend: Site, username?: string): Promise<Person> {
  const user = await registerUser(backend.url, username);
  return { ...user, backend, address: `${user.username}@${backend.name}`, api: groupsClient(backend.url) };
}

/** How `who` is written in a request made on `on`: a plain name at home, qualified elsewhere. */
export function addressOn(who: Person, on: Site): string {
  return who.backend.name === on.name ? who.username : who.address;
}

/** An address as `backend` shows it, qualified: a plain name is one of its own users. */
export function qualified(address: string, backend: Site): string {
  return address.includes('@') ? address : `${address}@${backend.name}`;
}

/** Asks `who`'s own backend to create a group with these members (each written as that backend writes them). */
export function createGroup(owner: Person, name: string, members: Person[]): Promise<Answer> {
  return owner.api.create(owner, name, members.map((member) => addressOn(member, owner.backend)));
}

/**
 * Creates a group on the owner's backend, failing the test on anything but 201, and answers it
 * once every member sees it on their own backend (each member's backend has its copy).
 */
export async function group(owner: Person, name: string, members: Person[]): Promise<Group> {
  const created = await createGroup(owner, name, members);
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  await seenAlikeBy([owner, ...members], (created.body as Group).id);
  return created.body as Group;
}

/** A member change asked by `asker` on their own backend, about `target` (written as that backend writes it). */
export const membership = {
  add: (asker: Person, id: string, target: Person) => asker.api.add(asker, id, addressOn(target, asker.backend)),
  remove: (asker: Person, id: string, target: Person) =>
    asker.api.as(asker, 'DELETE', `/accounts/groups/${id}/members/${encodeURIComponent(addressOn(target, asker.backend))}/`),
  role: (asker: Person, id: string, target: Person, role: string) =>
    asker.api.as(asker, 'PATCH', `/accounts/groups/${id}/members/${encodeURIComponent(addressOn(target, asker.backend))}/`, { role }),
  rename: (asker: Person, id: string, name: string) => asker.api.rename(asker, id, name),
};

/** Orders members by address, the same way on every backend and in every test. */
export const byUser = (x: { user: string }, y: { user: string }) => (x.user < y.user ? -1 : x.user > y.user ? 1 : 0);

export interface SeenGroup {
  id: string;
  name: string;
  home: string;
  /** Qualified addresses with their roles, sorted. */
  members: { user: string; role: string }[];
}

/** The group as `who` sees it on their own backend, addresses qualified so that every backend's view compares alike. */
export async function seenBy(who: Person, id: string): Promise<SeenGroup> {
  const response = await who.api.show(who, id);
  expect(response.status, `${who.address} GET group: ${JSON.stringify(response.body)}`).toBe(200);
  const shown = response.body as Group;
  return {
    id: shown.id,
    name: shown.name,
    home: shown.home,
    members: shown.members.map((member) => ({ user: qualified(member.user, who.backend), role: member.role })).sort(byUser),
  };
}

/** Waits until every member sees the same group, and answers it. */
export async function seenAlikeBy(members: Person[], id: string, check: (seen: SeenGroup) => void = () => undefined, timeoutMs = 15_000): Promise<SeenGroup> {
  return eventually(async () => {
    const views = await Promise.all(members.map((member) => seenBy(member, id)));
    for (const view of views) expect(view).toEqual(views[0]);
    check(views[0]!);
    return views[0]!;
  }, timeoutMs);
}

export interface Line {
  sender: string;
  message: string;
  deleted: boolean;
  edited: boolean;
  status: string;
}

/** `who`'s history of the group on their own backend, oldest first, senders qualified. */
export async function historyOf(who: Person, id: string): Promise<Line[]> {
  const lines: Line[] = [];
  let before = '';
  for (;;) {
    const response = await who.api.history(who, id, `&limit=200${before}`);
    expect(response.status, `${who.address} history: ${JSON.stringify(response.body)}`).toBe(200);
    const page = response.body.results as { id: number; sender: string; message: string; deleted: boolean; edited_at: string | null; status: string }[];
    lines.push(
      ...page.map((message) => ({ sender: qualified(message.sender, who.backend), message: message.message, deleted: message.deleted, edited: message.edited_at !== null, status: message.status })),
    );
    if (page.length < 200) return lines.reverse();
    before = `&before=${page.at(-1)!.id}`;
  }
}

/** The id `who`'s backend gave the group message with this text (each backend numbers its own copy). */
export async function messageIdOf(who: Person, id: string, text: string): Promise<number> {
  return eventually(async () => {
    const response = await who.api.history(who, id, '&limit=200');
    const found = (response.body.results as { id: number; message: string }[]).find((message) => message.message === text);
    expect(found, `${who.address} has "${text}"`).toBeDefined();
    return found!.id;
  });
}

/** The history as texts with their senders, oldest first: what must read the same on every backend. */
export async function textsOf(who: Person, id: string): Promise<string[]> {
  return (await historyOf(who, id)).map((line) => `${line.sender}: ${line.message}`);
}

/** Waits until every member's history of the group is `expected` (texts with senders, oldest first). */
export async function historiesAre(members: Person[], id: string, expected: string[], timeoutMs = 20_000): Promise<void> {
  await eventually(async () => {
    for (const member of members) expect(await textsOf(member, id), `${member.address}'s history`).toEqual(expected);
  }, timeoutMs);
}

/**
 * Waits until every member's history holds every message each poster sent, then checks that it
 * is the same list everywhere, with each poster's messages once and in the order they were sent.
 * Answers that list (sender: text, oldest first).
 */
export async function expectEveryMessageOnce(members: Person[], id: string, sentBy: [Person, string[]][], timeoutMs = 30_000): Promise<string[]> {
  const total = sentBy.reduce((sum, [, texts]) => sum + texts.length, 0);
  const agreed = await eventually(async () => {
    const histories = await Promise.all(members.map((member) => textsOf(member, id)));
    for (const [index, history] of histories.entries()) {
      expect(history, `${members[index]!.address}'s history`).toHaveLength(total);
      expect(history, `${members[index]!.address}'s history`).toEqual(histories[0]);
    }
    return histories[0]!;
  }, timeoutMs);
  for (const [poster, texts] of sentBy) {
    const own = agreed.filter((line) => line.startsWith(`${poster.address}: `)).map((line) => line.slice(poster.address.length + 2));
    expect(own, `${poster.address}'s messages`).toEqual(texts);
  }
  return agreed;
}

/** Fails unless the group answers 404 `not_found` to `who`, for the group and for its history. */
export async function expectGone(who: Person, id: string): Promise<void> {
  const shown = await who.api.show(who, id);
  expect(shown.status, JSON.stringify(shown.body)).toBe(404);
  expect(shown.body.code).toBe('not_found');
  expect((await who.api.history(who, id)).status).toBe(404);
}

/** The group's version as the backend stores it (undefined: it holds no copy); the API does not show it. */
export async function versionOn(backend: Backend, id: string): Promise<number | undefined> {
  const database = backend.openDatabase();
  try {
    const { rows } = await sql<{ version: number | string }>`select version from conversations where uuid = ${id}`.execute(database.db);
    return rows[0] === undefined ? undefined : Number(rows[0].version);
  } finally {
    await database.close();
  }
}

/** Everything a refusal must leave as it was: every member's view of the group, every history, the version on each backend. */
export async function snapshot(members: Person[], id: string, backends: Backend[]) {
  return {
    groups: await Promise.all(members.map((member) => seenBy(member, id))),
    histories: await Promise.all(members.map((member) => historyOf(member, id))),
    versions: await Promise.all(backends.map((backend) => versionOn(backend, id))),
  };
}

export interface LiveSocket extends TestSocket {
  /** Every frame with a seq, and typing frames, in arrival order (never consumed). */
  frames: Frame[];
}

/** A socket of `who` on their own backend, authenticated, keeping every event it gets. */
export async function connect(who: Person, open: TestSocket[]): Promise<LiveSocket> {
  const socket = await openSocket(who.backend.url, who.token);
  open.push(socket);
  const frames: Frame[] = [];
  socket.ws.on('message', (data) => {
    const frame = JSON.parse(data.toString()) as Frame;
    if (typeof frame.seq === 'number' || frame.type === 'typing') frames.push(frame);
  });
  await socket.roundTrip();
  return Object.assign(socket, { frames });
}

export const ofType =
  (type: string, extra: (frame: Frame) => boolean = () => true) =>
  (frame: Frame) =>
    frame.type === type && extra(frame);

/** The texts of the group's `message` events a socket got, in arrival order. */
export function messageTexts(socket: LiveSocket, id: string): string[] {
  return socket.frames.flatMap((frame) => {
    const message = frame.message as { group?: string; message?: string } | undefined;
    return frame.type === 'message' && message?.group === id ? [message.message!] : [];
  });
}

/** The key `from` shares with `to`, as `to`'s PEERS lists it. */
export function pairKey(from: Backend, to: Backend): string {
  const entry = to.peers.find((peer) => peer.name === from.name);
  if (!entry) throw new Error(`${to.name} has no peer ${from.name}`);
  return entry.key;
}

export interface ItemResult {
  id: string;
  status: number;
  code?: string;
  version?: number;
}

/** Sends these items to `to` as a transaction signed by `from` with their pair key; answers the per-item results. */
export async function sendItems(from: Backend, to: Backend, items: Record<string, unknown>[], transactionId: string = randomUUID()): Promise<ItemResult[]> {
  const request = transactionRequest({ key: pairKey(from, to), items, id: transactionId, origin: from.name, destination: to.name });
  const response = await postTransaction(to.url, request);
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return response.body.results as ItemResult[];
}

/** The items of groups.md / design-18 as a peer writes them, with a fresh id and the time now. */
export const groupItems = {
  state: (id: string, fields: { name: string; version: number; members: { user: string; role: string }[] }) => ({
    type: 'group_state',
    id: randomUUID(),
    group: id,
    name: fields.name,
    version: fields.version,
    created_at: new Date().toISOString(),
    members: fields.members.map((member) => ({ ...member, joined_at: new Date().toISOString() })),
  }),
  message: (id: string, fields: { sender: string; text: string; position: number; message?: string }) => ({
    type: 'group_message',
    id: randomUUID(),
    group: id,
    kind: 'message',
    message: fields.message ?? randomUUID(),
    sender: fields.sender,
    position: fields.position,
    text: fields.text,
    timestamp: new Date().toISOString(),
  }),
  post: (id: string, fields: { sender: string; text: string; message?: string }) => ({
    type: 'group_post',
    id: randomUUID(),
    group: id,
    kind: 'message',
    sender: fields.sender,
    message: fields.message ?? randomUUID(),
    text: fields.text,
    timestamp: new Date().toISOString(),
  }),
  request: (id: string, fields: { sender: string; action: 'add' | 'remove' | 'role' | 'rename'; user?: string; role?: string; name?: string }) => ({
    type: 'group_request',
    id: randomUUID(),
    group: id,
    ...fields,
  }),
};
