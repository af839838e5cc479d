// The statements of the hot paths read through indexes: a table scan there costs nothing on an
// empty test database and grows with every message a backend keeps (a receiver once scanned
// every receipt for each delivery; a claim once read a dead peer's whole backlog). SQLite's
// planner decides without statistics here, so its plan is the same at any size.
import type SQLite from 'better-sqlite3';
import type { CompiledQuery, Kysely } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Tables } from '../../src/db/schema.js';
import { DirectConversations } from '../../src/conversations/direct.js';
import { conversationId, remoteMember } from '../../src/conversations/members.js';
import { groupPlace, UNORDERED } from '../../src/conversations/group-order.js';
import { GroupQueries } from '../../src/conversations/group-queries.js';
import { ConversationsRepository } from '../../src/conversations/repository.js';
import { FeedRepository } from '../../src/feed/repository.js';
import { OutboxRepository } from '../../src/federation/outbox/repository.js';
import { RequestReceiptsRepository } from '../../src/federation/request-receipts.js';
import { MessagesRepository } from '../../src/messages/repository.js';
import { MessageWriter, type NewMessage } from '../../src/messages/write.js';
import { memoryDatabaseWithAlice } from '../helpers/memory-database.js';

// A scan of a VALUES list or of SQLite's own one-row-per-table counter is not a table scan.
const TABLE_SCAN = /^SCAN (?!\d+-ROW VALUES CLAUSE|sqlite_sequence|CONSTANT ROW)/;

describe('query plans of the delivery paths [sqlite]', () => {
  let connection: SQLite.Database;
  let db: Kysely<Tables>;
  let statements: CompiledQuery[];

  beforeEach(async () => {
    statements = [];
    ({ connection, db } = await memoryDatabaseWithAlice((event) => {
      if (event.level === 'query') statements.push(event.query);
    }));
    statements = [];
  });
  afterEach(async () => {
    await db.destroy();
  });

  /** The steps of the plans of the statements run since the last call to tableScans, with their SQL. */
  function plans(): { detail: string; sql: string }[] {
    return statements.flatMap((query) => {
      // An insert's plan lists a scan of every table whose foreign key names the inserted one;
      // SQLite runs it only while a foreign-key violation is outstanding, which never happens here.
      if (/^(begin|commit|rollback|insert)/i.test(query.sql)) return [];
      const plan = connection.prepare(`explain query plan ${query.sql}`).all(...(query.parameters as unknown[])) as { detail: string }[];
      return plan.map((step) => ({ detail: step.detail, sql: query.sql }));
    });
  }

  /** The table scans in the plans of the statements run since the last call. */
  function tableScans(): string[] {
    const scans = plans()
      .filter((step) => TABLE_SCAN.test(step.detail))
      .map((step) => `${step.detail} in: ${step.sql.slice(0, 120)}`);
    statements = [];
    return scans;
  }

  const peer = { name: 'b', compat: false };
  const alice = { kind: 'local' as const, userId: 1, username: 'alice' };

  /** The write path's stores over the test database, with the outbox claiming under a test lease. */
  function stores() {
    const feed = new FeedRepository(db, 'sqlite');
    const outbox = new OutboxRepository(db, 'sqlite', feed);
    const conversations = new ConversationsRepository(db, 'sqlite');
    const writer = new MessageWriter(
      {
        db,
        kind: 'sqlite',
        messages: new MessagesRepository(db, 'sqlite'),
        conversations,
        direct: new DirectConversations(conversations),
        feed,
        outbox: { enqueue: (requests, now, trx) => outbox.enqueue(requests, now, { by: 'test', until: now + 1000 }, trx) },
        receipts: new RequestReceiptsRepository(db, 'sqlite'),
      },
      (text) => text,
      () => 1,
      { serverName: 'a', newId: () => crypto.randomUUID() },
    );
    return { writer, outbox };
  }

  function delivered(requestKey: string): NewMessage {
    return { uuid: requestKey, sender: remoteMember(peer, 'bob'), receiver: alice, text: 'hello', clientId: null, receipt: { peer: 'b', requestKey } };
  }

  function sent(receiver: string): NewMessage {
    return { uuid: `to-${receiver}-${Math.random()}`, sender: alice, receiver: remoteMember(peer, receiver), text: 'hello', clientId: null };
  }

  it('stores a delivery from a peer, and its repeat, without scanning a table', async () => {
    const { writer } = stores();
    await Promise.all([writer.submit(delivered('k1')), writer.submit(delivered('k2'))]);
    const repeat = [await writer.submit(delivered('k1'))];

    expect(repeat[0]!.stored).toBe(false);
    expect(tableScans()).toEqual([]);
  });

  it('queues, claims and ends outbox entries without scanning a table', async () => {
    const { writer, outbox } = stores();
    const written = await Promise.all([writer.submit(sent('bob')), writer.submit(sent('bob')), writer.submit(sent('carol'))]);
    const entries = written.map((result) => (result.stored ? result.outbox! : undefined));
    // The first entry of each receiver is claimed as it is written; the second of bob's waits behind it.
    expect(entries.map((entry) => entry?.claimed)).toEqual([true, false, true]);

    // While the first tries hold their entries, nothing else is due.
    const claimed = await outbox.claimDue(500, 10, { by: 'worker', until: 10_000 });
    expect(claimed).toEqual([]);
    await outbox.finish(
      [written[0]!, written[2]!].map((result, index) => ({
        entryId: [entries[0], entries[2]][index]!.entryId,
        messageId: result.record.id,
        status: 'delivered' as const,
        failureCode: null,
        senderUserId: 1,
      })),
      6000,
    );
    // bob's second entry is now first in line, and due.
    const next = await outbox.claimDue(7000, 10, { by: 'worker', until: 12_000 });
    expect(next.map((entry) => entry.entryId)).toEqual([entries[1]!.entryId]);
    expect(tableScans()).toEqual([]);
  });

  it('reads a conversation, the feed, the list, read times and presence audiences without scanning a table', async () => {
    const { writer } = stores();
    const written = await Promise.all([writer.submit(delivered('k1')), writer.submit(sent('bob')), writer.submit(delivered('k2'))]);
    const record = written[0]!.record;
    const messages = new MessagesRepository(db, 'sqlite');
    const conversations = new ConversationsRepository(db, 'sqlite');
    const feed = new FeedRepository(db, 'sqlite');
    tableScans();

    expect((await messages.history(conversationId(record.conversation_id), undefined, 50)).map((row) => row.id)).toHaveLength(3);
    expect(await messages.ofMemberAfter(1, 0, 200)).toHaveLength(3);
    expect(await conversations.list(1, undefined, 50)).toHaveLength(1);
    expect(await feed.head(1)).toBe(written[2]!.record.id);
    expect(await feed.eventsAfter(1, 0, 100)).toEqual([]);
    expect(await conversations.establishedPartners(1)).toEqual([]);
    expect((await messages.findById(record.id))!.read_at).toBeNull();
    expect(tableScans()).toEqual([]);
  });
  it('writes to a group and reads its history, its members’ feeds and lists, its membership and audiences without scanning a table', async () => {
    const { writer } = stores();
    for (const name of ['bob', 'carol']) {
      await db.insertInto('users').values({ username: name, username_key: name, email: `${name}@example.org`, email_key: `${name}@example.org`, password_hash: 'x', date_joined: 0 }).execute();
    }
    const conversations = new ConversationsRepository(db, 'sqlite');
    const members = [alice, { kind: 'local' as const, userId: 2, username: 'bob' }, { kind: 'local' as const, userId: 3, username: 'carol' }];
    const uuid = '0190c3b4-1d2e-7f00-8000-000000000001';
    const id = await db.transaction().execute((trx) =>
      conversations.createGroup({ uuid, name: 'plans', members: members.map((member, index) => ({ member, role: index === 0 ? ('owner' as const) : ('member' as const) })) }, 1, trx),
    );
    tableScans();
    await Promise.all([writer.submit({ uuid: 'g1', sender: alice, group: { id, uuid, home: null }, text: 'hi', clientId: null }), writer.submit({ uuid: 'g2', sender: alice, group: { id, uuid, home: null }, text: 'all', clientId: null })]);
    const messages = new MessagesRepository(db, 'sqlite');
    const feed = new FeedRepository(db, 'sqlite');
    const groups = new GroupQueries(db);

    expect(await messages.history(id, undefined, 50)).toHaveLength(2);
    const ordered = await messages.groupHistory(id, undefined, 50);
    expect(ordered.map((row) => row.uuid)).toEqual(['g2', 'g1']);
    expect(await messages.groupHistory(id, { id: ordered[0]!.id, position: ordered[0]!.position }, 50)).toHaveLength(1);
    expect(await messages.groupHistory(id, { id: ordered[0]!.id + 1, position: null }, 50)).toHaveLength(2);
    // Each of a group history's two reads goes along its own partial index (0012), not the
    // conversation's every message.
    const messageIndexes = plans().flatMap((step) => /^SEARCH m USING (?:COVERING )?INDEX (\w+)/.exec(step.detail)?.[1] ?? []);
    expect(messageIndexes).toEqual(expect.arrayContaining(['messages_unordered', 'messages_position']));
    // Counting what a read marker passes over seeks each kind of place along its own index,
    // from one place to the other, not along the group's every message.
    tableScans();
    const [first, last] = [groupPlace(ordered[1]!), { order: UNORDERED, id: ordered[0]!.id + 1 }];
    expect(await db.transaction().execute((trx) => messages.countReceivedInGroup(id, 'nobody', first, last, trx))).toBe(1);
    expect(plans().map((step) => step.detail)).toEqual([
      expect.stringMatching(/^SEARCH messages USING INDEX messages_position \(conversation_id=\? AND position>\?\)$/),
      expect.stringMatching(/^SEARCH messages USING INDEX messages_unordered \(conversation_id=\? AND id>\? AND id<\?\)$/),
    ]);
    expect((await messages.findInConversation(id, 'g1'))?.uuid).toBe('g1');
    expect(await messages.ofMemberAfter(2, 0, 200)).toHaveLength(2);
    expect(await conversations.list(2, undefined, 50)).toEqual([expect.objectContaining({ partner: null, unread: 2, group: { uuid, name: 'plans', membersCount: 3 } })]);
    expect(await feed.head(2)).toBeGreaterThan(0);
    expect(await feed.eventsAfter(2, 0, 100)).toEqual([]);
    expect(await groups.findGroup(uuid, 2)).toMatchObject({ id, role: 'member' });
    expect(await groups.findByUuid(uuid)).toMatchObject({ id, home: null });
    expect(await groups.groupsOf(3)).toHaveLength(1);
    expect(await groups.groupIdsOf(3)).toEqual([uuid]);
    expect(await groups.groupCoMembers(1)).toHaveLength(2);
    expect(await groups.localMembers(uuid)).toHaveLength(3);
    expect(await conversations.members(id)).toHaveLength(3);
    expect(tableScans()).toEqual([]);
  });
});
