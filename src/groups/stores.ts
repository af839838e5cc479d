// The stores the groups' services write through, each change in one change-locked transaction.
import type { Kysely } from 'kysely';
import type { GroupQueries } from '../conversations/group-queries.js';
import type { ConversationsRepository } from '../conversations/repository.js';
import type { DatabaseKind } from '../db/database.js';
import type { Tables } from '../db/schema.js';
import type { FeedLog, Outbox } from '../messages/ports.js';
import type { MessagesRepository } from '../messages/repository.js';

export interface GroupStores {
  db: Kysely<Tables>;
  kind: DatabaseKind;
  conversations: ConversationsRepository;
  groups: GroupQueries;
  messages: MessagesRepository;
  feed: FeedLog;
  /** Carries a group's state from its home to the other backends with members. */
  outbox: Outbox;
}
