// The sends that wait for their message's first delivery attempt: each is answered with the
// entry's status once it ends, `queued` once it (or an entry before it) goes back to wait for a
// retry, and `queued` anyway after the first-try wait, the delivery going on without the sender.
import type { MessageStatus } from '../../messages/view.js';

interface Waiting {
  receiverKey: string;
  answers: ((status: MessageStatus) => void)[];
}

export class StatusWaiters {
  private readonly waiting = new Map<number, Waiting>();

  constructor(private readonly waitMs: number) {}

  /** The entry's status if it ends within the wait, else `queued`. */
  wait(entryId: number, receiverKey: string): Promise<MessageStatus> {
    return new Promise((resolve) => {
      const waiting = this.waiting.get(entryId) ?? { receiverKey, answers: [] };
      const answer = (status: MessageStatus) => {
        clearTimeout(timer);
        resolve(status);
      };
      // Past the wait the send is answered and forgotten; the delivery goes on.
      const timer = setTimeout(() => {
        waiting.answers = waiting.answers.filter((other) => other !== answer);
        if (waiting.answers.length === 0 && this.waiting.get(entryId) === waiting) this.waiting.delete(entryId);
        resolve('queued');
      }, this.waitMs);
      waiting.answers.push(answer);
      this.waiting.set(entryId, waiting);
    });
  }

  /** The entry ended. */
  ended(entryId: number, status: MessageStatus): void {
    const waiting = this.waiting.get(entryId);
    this.waiting.delete(entryId);
    for (const answer of waiting?.answers ?? []) answer(status);
  }

  /** These receivers' entries wait for a retry: every send waiting on one of them is `queued`. */
  requeued(receiverKeys: ReadonlySet<string>): void {
    for (const [entryId, waiting] of this.waiting) {
      if (receiverKeys.has(waiting.receiverKey)) this.ended(entryId, 'queued');
    }
  }

  /** Shutting down: everyone waiting is `queued`. */
  releaseAll(): void {
    for (const entryId of [...this.waiting.keys()]) this.ended(entryId, 'queued');
  }
}
