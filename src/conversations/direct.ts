// Direct conversations found by their two members: from a cache on the send path (a conversation's
// id never changes), else from the database, and created with their member rows on a first message.
import type { Transaction } from 'kysely';
import { LRUCache } from 'lru-cache';
import type { Tables } from '../db/schema.js';
import { timeOrderedUuid } from '../db/uuid.js';
import { directKey, memberKey, type ConversationId, type Member } from './members.js';
import type { ConversationsRepository } from './repository.js';

/** The two members of a direct conversation: whoever sent, and the other one. */
export interface DirectPair {
  sender: Member;
  receiver: Member;
}

// Enough for every active pair of a busy backend; a miss only costs one indexed read.
const CACHE_LIMIT = 100_000;

export class DirectConversations {
  private readonly ids = new LRUCache<string, ConversationId>({ max: CACHE_LIMIT });

  constructor(private readonly repository: ConversationsRepository) {}

  /**
   * The conversation of each pair, by direct key, created when missing. Learned ids are kept only
   * once the transaction has committed (`remember`): a rolled-back creation leaves no trace.
   */
  async resolve(pairs: DirectPair[], now: number, trx: Transaction<Tables>): Promise<Map<string, ConversationId>> {
    const found = new Map<string, ConversationId>();
    const missing = new Map<string, DirectPair>();
    for (const pair of pairs) {
      const key = directKey(pair.sender, pair.receiver);
      const cached = this.ids.get(key);
      if (cached !== undefined) found.set(key, cached);
      else missing.set(key, pair);
    }
    if (missing.size === 0) return found;
    const existing = await this.repository.findDirect([...missing.keys()], trx);
    const created = await this.repository.createDirect(
      [...missing].filter(([key]) => !existing.has(key)).map(([key, pair]) => ({ directKey: key, uuid: timeOrderedUuid(now), members: membersOf(pair) })),
      now,
      trx,
    );
    for (const [key, id] of [...existing, ...created]) found.set(key, id);
    return found;
  }

  /** The conversation of a pair, if it has one. */
  async find(pair: DirectPair): Promise<ConversationId | undefined> {
    const key = directKey(pair.sender, pair.receiver);
    const cached = this.ids.get(key);
    if (cached !== undefined) return cached;
    const id = (await this.repository.findDirect([key])).get(key);
    if (id !== undefined) this.ids.set(key, id);
    return id;
  }

  /**
   * Whether a pair's conversation is established: both have written, or one has read the other's
   * messages. Typing and presence pass only then: a stranger's one message opens no channel.
   */
  async established(pair: DirectPair): Promise<boolean> {
    const id = await this.find(pair);
    return id !== undefined && (await this.repository.isEstablished(id));
  }

  /** Keeps ids that a committed transaction resolved. */
  remember(ids: Map<string, ConversationId>): void {
    for (const [key, id] of ids) this.ids.set(key, id);
  }
}

function membersOf(pair: DirectPair): Member[] {
  return memberKey(pair.sender) === memberKey(pair.receiver) ? [pair.sender] : [pair.sender, pair.receiver];
}
