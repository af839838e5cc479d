// Changes asked on a member's backend for a group homed elsewhere (groups.md, "Groups across
// backends"): once the local rules passed against the copy, the change goes to the home as a
// `group_request`, and the caller waits, at most FEDERATION_TIMEOUT, for the home's answer and
// then for the copy to reach the version the home answered with (its `group_state` follows the
// answer). A refusal of the home's is the caller's, with its status and code; no answer in time
// leaves the request queued, applied (or refused) by the home when it arrives.
import type { GroupMembership } from '../conversations/group-queries.js';
import { withChangeLock } from '../db/change-transaction.js';
import { HttpError, NotFound, ValidationFailed } from '../http/errors.js';
import type { GroupRequestFields, GroupRequests } from '../messages/ports.js';
import type { GroupStores } from './stores.js';

/** The answer when the home could not answer in time (202). */
export interface Queued {
  status: 'queued';
}

export const QUEUED: Queued = { status: 'queued' };

/** What a copy's change asks of the home: everything but the group and the asker. */
export type CopyChange = Omit<GroupRequestFields, 'group' | 'sender'>;

// How often a caller looks at the copy's version when no state arrived through this process
// (another instance of this backend may have taken it).
const VERSION_POLL_MS = 100;

export class CopyRequests {
  private readonly watchers = new Map<string, Set<() => void>>();

  constructor(
    private readonly stores: GroupStores,
    private readonly requests: GroupRequests,
    /** FEDERATION_TIMEOUT: the longest a caller waits for the home's answer and the copy's catching up. */
    private readonly waitMs: number,
    private readonly clock: () => number,
  ) {}

  /** Sends the change to the group's home; answers the version the home answered once the copy shows it, or QUEUED. */
  async ask(user: { id: number; username: string }, group: GroupMembership, change: CopyChange): Promise<number | Queued> {
    const home = group.home!;
    const deadline = Date.now() + this.waitMs;
    const pending = await withChangeLock(this.stores.db, this.stores.kind, async (trx) => {
      // Still a member under the lock: a removal that came meanwhile counts.
      if (!(await this.stores.groups.findGroup(group.uuid, user.id, trx))) throw new NotFound();
      return this.requests.enqueue({ conversationId: group.id, home, fields: { group: group.uuid, sender: user.username, ...change } }, this.clock(), trx);
    });
    const result = await this.requests.result(pending);
    if (result === 'queued') return QUEUED;
    if ('code' in result) throw refusalOf(result, change);
    if (result.version === undefined) return group.version;
    await this.caughtUp(group.uuid, result.version, deadline);
    return result.version;
  }

  /** Wakes the callers waiting for this copy's version (its state changed in this process). */
  changed(uuid: string): void {
    for (const wake of this.watchers.get(uuid) ?? []) wake();
  }

  /** Resolves once the copy is at `version` or past it (or gone), or at the deadline. */
  private async caughtUp(uuid: string, version: number, deadline: number): Promise<void> {
    for (;;) {
      const copy = await this.stores.groups.findByUuid(uuid);
      const left = deadline - Date.now();
      if (!copy || copy.version >= version || left <= 0) return;
      await this.nextChange(uuid, Math.min(left, VERSION_POLL_MS));
    }
  }

  private nextChange(uuid: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const watchers = this.watchers.get(uuid) ?? new Set();
      this.watchers.set(uuid, watchers);
      const done = () => {
        clearTimeout(timer);
        watchers.delete(done);
        if (watchers.size === 0) this.watchers.delete(uuid);
        resolve();
      };
      const timer = setTimeout(done, ms);
      watchers.add(done);
    });
  }
}

/**
 * The home's refusal as the caller's error. A per-item result carries no fields, so a
 * `validation_error` names the field the change brought: the user for a member change, the name
 * for a rename, as a local refusal would.
 */
function refusalOf(result: { status: number; code: string }, change: CopyChange): HttpError {
  if (result.code !== 'validation_error') return new HttpError(result.status, result.code, "The group's home refused the change.");
  const field = change.action === 'rename' ? 'name' : 'user';
  const value = change.action === 'rename' ? change.name : change.user;
  return new ValidationFailed({ [field]: [`The group's home refused ${value ?? 'this'}.`] });
}
