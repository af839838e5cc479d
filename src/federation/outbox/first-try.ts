// The first tries of new sends in this process, queued per receiver: a send whose receiver has
// an earlier one still being tried here waits for it, so that a receiver gets its messages in
// order, and the sender's answer waits for its own try only up to the first-try wait.
import type { MessageStatus } from '../../messages/view.js';

export class FirstTryQueue {
  /** Per receiver, the last first try in this process: the next send to them follows it. */
  private readonly last = new Map<string, Promise<MessageStatus>>();

  constructor(private readonly waitMs: number) {}

  /**
   * A try already under way becomes its receiver's last: answers its status if it ends within
   * the wait, else `queued` (it goes on without the sender).
   */
  tryNow(receiver: string, attempt: Promise<MessageStatus>): Promise<MessageStatus> {
    return this.enqueue(receiver, attempt);
  }

  /**
   * Queues `next` behind the receiver's last try here, to run once that one ends however it
   * ended (a failed try must not hold up the messages behind it); answers as `tryNow` does.
   * Undefined when nothing of the receiver's is in hand in this process: then what is ahead, if
   * anything, is another instance's or a later retry's, and the worker sends it in its turn.
   */
  tryAfterLast(receiver: string, next: () => Promise<MessageStatus>): Promise<MessageStatus> | undefined {
    const ahead = this.last.get(receiver);
    if (!ahead) return undefined;
    return this.enqueue(receiver, ahead.then(next, next));
  }

  private async enqueue(receiver: string, attempt: Promise<MessageStatus>): Promise<MessageStatus> {
    this.last.set(receiver, attempt);
    const forget = () => {
      if (this.last.get(receiver) === attempt) this.last.delete(receiver);
    };
    void attempt.then(forget, forget);
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), this.waitMs);
    });
    try {
      return (await Promise.race([attempt, waited])) ?? 'queued';
    } finally {
      clearTimeout(timer);
    }
  }
}
