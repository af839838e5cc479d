// Every migration, in the order it is applied. A new one goes at the end with the next number.
import type { Migration } from './migration.js';
import { accountsMigration } from './0001_accounts.js';
import { messagesMigration } from './0002_messages.js';
import { phoneVerificationsMigration } from './0003_phone_verifications.js';
import { eventsMigration } from './0005_events.js';
import { receiptAnswersMigration } from './0006_receipt_answers.js';
import { usernameSkeletonsMigration } from './0007_username_skeletons.js';
import { receiptPruningMigration } from './0008_receipt_pruning.js';
import { conversationsMigration } from './0009_conversations.js';
import { groupsMigration } from './0010_groups.js';
import { federatedGroupsMigration } from './0011_federated_groups.js';
import { partialPositionIndexMigration } from './0012_partial_position_index.js';
import { palochkaSkeletonsMigration } from './0013_palochka_skeletons.js';

export const migrations: Migration[] = [
  accountsMigration,
  messagesMigration,
  phoneVerificationsMigration,
  eventsMigration,
  receiptAnswersMigration,
  usernameSkeletonsMigration,
  receiptPruningMigration,
  conversationsMigration,
  groupsMigration,
  federatedGroupsMigration,
  partialPositionIndexMigration,
  palochkaSkeletonsMigration,
];
