// The change feed: a user's events after a seq, exactly as the WebSocket sends them (a `group`
// event shows the group as it is now, as message events show their message), and the
// pruning of events older than EVENT_RETENTION. Asking from below what was pruned is 410 gone,
// with the seq to continue from once the client has reloaded its conversations.
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { withSnapshot } from '../db/change-transaction.js';
import type { Tables } from '../db/schema.js';
import { Gone } from '../http/errors.js';
import { pageOf } from '../http/pagination.js';
import { PeriodicJob, pruneIntervalFor } from '../jobs/periodic-job.js';
import type { MessageRecord, MessagesRepository } from '../messages/repository.js';
import type { MessageViews } from '../messages/view.js';
import { feedEvent, type FeedEvent } from './events.js';
import type { FeedRepository } from './repository.js';

export interface FeedPage {
  results: FeedEvent[];
  next: number | null;
}

/** An entry of a feed page: a message of one of the user's conversations, or a row of `events`. */
interface FeedRow {
  seq: number;
  type: string;
  data: string | null;
  message: MessageRecord | null;
  conversationId: number | null;
}

/** Groups as their events show them (the groups feature renders them): a `group` event shows the group as it is now. */
export interface GroupViewReader {
  viewsOf(conversationIds: number[]): Promise<Map<number, Record<string, unknown>>>;
}

export interface FeedTuning {
  retentionMs: number;
  /** How often old events are pruned; by default a tenth of the retention, at most hourly. */
  pruneIntervalMs?: number;
}

const PRUNE_BATCH = 5000;

export class FeedService {
  private readonly pruning: PeriodicJob;

  constructor(
    private readonly db: Kysely<Tables>,
    private readonly repository: FeedRepository,
    private readonly messages: MessagesRepository,
    private readonly views: MessageViews,
    private readonly groups: GroupViewReader,
    private readonly tuning: FeedTuning,
    logger: Logger,
    private readonly clock: () => number,
  ) {
    this.pruning = new PeriodicJob({
      name: 'change feed pruning',
      run: () => this.repository.prune(this.clock() - this.tuning.retentionMs, PRUNE_BATCH),
      intervalMs: tuning.pruneIntervalMs ?? pruneIntervalFor(tuning.retentionMs),
      logger,
    });
  }

  async page(userId: number, after: number, limit: number): Promise<FeedPage> {
    const rows = await this.rowsAfter(userId, after, limit + 1);
    // Read after the rows: a prune that removed some of them has already raised the mark.
    const prunedThrough = await this.repository.prunedThrough();
    if (after < prunedThrough) {
      const head = await this.repository.head(userId);
      const seq = Math.max(head, prunedThrough);
      throw new Gone(`Events after ${after} have been pruned: reload the conversations and histories, then continue after ${seq}.`, { seq });
    }
    // A seq past any this backend gave out (its database restored from a backup, or a client's
    // bug) would hold back every event until the counter passed it: the client must start over.
    if (rows.length === 0 && after > 0 && after > (await this.repository.newestSeq())) {
      const seq = await this.repository.head(userId);
      throw new Gone(`No event has seq ${after} yet: reload the conversations and histories, then continue after ${seq}.`, { seq });
    }
    const page = pageOf(rows, limit, (last) => last.seq);
    const groupIds = [...new Set(page.results.flatMap((row) => (row.type === 'group' && row.conversationId !== null ? [row.conversationId] : [])))];
    const groups = groupIds.length === 0 ? new Map<number, Record<string, unknown>>() : await this.groups.viewsOf(groupIds);
    return {
      results: page.results.map((row) =>
        row.type === 'group'
          ? feedEvent(row.type, row.seq, undefined, { group: groups.get(row.conversationId!) })
          : feedEvent(row.type, row.seq, row.message ? this.views.view(row.message) : undefined, row.data ? (JSON.parse(row.data) as Record<string, unknown>) : undefined),
      ),
      next: page.next,
    };
  }

  /**
   * The user's feed after `after`, oldest first: their conversations' messages (seq = id) merged
   * with their rows of `events`, each with its message as it is now. One snapshot for the reads,
   * so that no seq is passed over for one that committed after it was read.
   */
  private async rowsAfter(userId: number, after: number, limit: number): Promise<FeedRow[]> {
    const { messages, events, about } = await withSnapshot(this.db, async (trx) => {
      const messages = await this.messages.ofMemberAfter(userId, after, limit, trx);
      const events = await this.repository.eventsAfter(userId, after, limit, trx);
      const ids = [...new Set(events.flatMap((event) => (event.messageId === null ? [] : [event.messageId])))];
      return { messages, events, about: await this.messages.findByIds(ids, trx) };
    });
    const byId = new Map(about.map((record) => [record.id, record]));
    const bySeq = new Map<number, FeedRow>();
    for (const message of messages) bySeq.set(message.id, { seq: message.id, type: 'message', data: null, message, conversationId: message.conversation_id });
    for (const event of events) {
      const message = event.messageId === null ? null : (byId.get(event.messageId) ?? null);
      bySeq.set(event.seq, { seq: event.seq, type: event.type, data: event.data, message, conversationId: event.conversationId });
    }
    return [...bySeq.values()].sort((a, b) => a.seq - b.seq).slice(0, limit);
  }

  /** The user's latest seq (0 when none): where a socket that asked for no replay starts. */
  head(userId: number): Promise<number> {
    return this.repository.head(userId);
  }

  startPruning(): void {
    this.pruning.start();
  }

  stopPruning(): Promise<void> {
    return this.pruning.stop();
  }
}
