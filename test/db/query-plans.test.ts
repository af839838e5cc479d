// The statements of the hot paths read through indexes: a table scan there costs nothing on an
// empty test database and grows with every message a backend keeps (a receiver once scanned
// every receipt for each delivery; a claim once read a dead peer's whole backlog). SQLite's
// planner decides without statistics here, so its plan is the same at any size.
import type SQLite from 'better-sqlite3';
import type { CompiledQuery, Kysely } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Tables } from '../../src/db/schema.js';
import { OutboxRepository } from '../../src/federation/outbox/repository.js';
import { MessagesRepository, type NewMessage } from '../../src/messages/repository.js';
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

  /** The plan of every statement run since the last call, by SQL text. */
  function tableScans(): string[] {
    const scans = statements.flatMap((query) => {
      // An insert's plan lists a scan of every table whose foreign key names the inserted one;
      // SQLite runs it only while a foreign-key violation is outstanding, which never happens here.
      if (/^(begin|commit|rollback|insert)/i.test(query.sql)) return [];
      const plan = connection.prepare(`explain query plan ${query.sql}`).all(...(query.parameters as unknown[])) as { detail: string }[];
      return plan.filter((step) => TABLE_SCAN.test(step.detail)).map((step) => `${step.detail} in: ${query.sql.slice(0, 120)}`);
    });
    statements = [];
    return scans;
  }

  function delivered(requestKey: string): NewMessage {
    return {
      uuid: requestKey,
      pair: 'alice|bob@b',
      senderUserId: null,
      receiverUserId: 1,
      sender: 'bob@b',
      receiver: 'alice',
      peer: 'b',
      text: 'hello',
      status: 'delivered',
      clientId: null,
      conversations: [{ userId: 1, partnerKey: 'bob@b', partner: 'bob@b', unread: true }],
      receipt: { peer: 'b', requestKey },
      notify: [1],
    };
  }

  function sent(receiver: string): NewMessage {
    return {
      uuid: `to-${receiver}-${Math.random()}`,
      pair: `alice|${receiver}`,
      senderUserId: 1,
      receiverUserId: null,
      sender: 'alice',
      receiver,
      peer: 'b',
      text: 'hello',
      status: 'queued',
      clientId: null,
      conversations: [{ userId: 1, partnerKey: receiver, partner: receiver, unread: false }],
      outbox: { peer: 'b', receiverKey: receiver },
      notify: [1],
    };
  }

  const writeOptions = (now: number) => ({ now, seal: (text: string) => text, claim: { by: 'test', until: now + 1000 } });

  it('stores a delivery from a peer, and its repeat, without scanning a table', async () => {
    const messages = new MessagesRepository(db, 'sqlite');
    await messages.writeBatch([delivered('k1'), delivered('k2')], writeOptions(1));
    const repeat = await messages.writeBatch([delivered('k1')], writeOptions(2));

    expect(repeat[0]!.stored).toBe(false);
    expect(tableScans()).toEqual([]);
  });

  it('queues, claims and ends outbox entries without scanning a table', async () => {
    const messages = new MessagesRepository(db, 'sqlite');
    const outbox = new OutboxRepository(db, 'sqlite');
    const written = await messages.writeBatch([sent('bob@b'), sent('bob@b'), sent('carol@b')], writeOptions(1));
    const entries = written.map((result) => (result.stored ? result.outbox! : undefined));
    // The first entry of each receiver is claimed as it is written; the second of bob's waits behind it.
    expect(entries.map((entry) => entry?.claimed)).toEqual([true, false, true]);

    // While the first tries hold their entries, nothing else is due.
    const claimed = await outbox.claimDue(500, 10, { by: 'worker', until: 10_000 });
    expect(claimed).toEqual([]);
    await outbox.finish(
      [written[0]!, written[2]!].map((result, index) => ({
        entryId: [entries[0], entries[2]][index]!.entryId,
        messageId: result.row.id,
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
});
