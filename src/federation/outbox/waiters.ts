// The sends (and a member's group requests) that wait for their entry's first delivery attempt:
// each is answered with how the entry ended once it does, `queued` once it (or an entry before it)
// goes back to wait for a retry, and `queued` anyway after its wait, the delivery going on
// without the sender.
import type { ItemAnswer } from './delivery.js';

/** How an entry ended for whoever waits for it; `queued`: it waits for a retry, or the wait ran out. */
export interface EntryEnd {
  status: 'delivered' | 'failed' | 'queued';
  failureCode?: string | null;
  answer?: ItemAnswer;
}

interface Waiting {
  line: string;
  answers: ((end: EntryEnd) => void)[];
}

const QUEUED: EntryEnd = { status: 'queued' };

/** The line an entry waits on: its receiver (or group) at the backend it goes to. */
export function waitingLine(server: string, receiverKey: string): string {
  return `${server.toLowerCase()}|${receiverKey}`;
}

export class StatusWaiters {
  private readonly waiting = new Map<number, Waiting>();

  constructor(private readonly waitMs: number) {}

  /** How the entry ends if it does within the wait (by default the first-try wait), else `queued`. */
  wait(entryId: number, line: string, waitMs = this.waitMs): Promise<EntryEnd> {
    return new Promise((resolve) => {
      const waiting = this.waiting.get(entryId) ?? { line, answers: [] };
      const answer = (end: EntryEnd) => {
        clearTimeout(timer);
        resolve(end);
      };
      // Past the wait the send is answered and forgotten; the delivery goes on.
      const timer = setTimeout(() => {
        waiting.answers = waiting.answers.filter((other) => other !== answer);
        if (waiting.answers.length === 0 && this.waiting.get(entryId) === waiting) this.waiting.delete(entryId);
        resolve(QUEUED);
      }, waitMs);
      waiting.answers.push(answer);
      this.waiting.set(entryId, waiting);
    });
  }

  /** The entry ended. */
  ended(entryId: number, end: EntryEnd): void {
    const waiting = this.waiting.get(entryId);
    this.waiting.delete(entryId);
    for (const answer of waiting?.answers ?? []) answer(end);
  }

  /** These lines' entries wait for a retry: every send waiting on one of them is `queued`. */
  requeued(lines: ReadonlySet<string>): void {
    for (const [entryId, waiting] of this.waiting) {
      if (lines.has(waiting.line)) this.ended(entryId, QUEUED);
    }
  }

  /** Shutting down: everyone waiting is `queued`. */
  releaseAll(): void {
    for (const entryId of [...this.waiting.keys()]) this.ended(entryId, QUEUED);
  }
}
