// One message: its text (always as text, never as HTML), its time, whether it was edited and,
// for our own, where it is; in a group, who wrote it. A deleted message stays in place as a tombstone.
import type { Entry } from './chat/history.js';
import { fullTime, listText, messageTime } from './format.js';

interface MessageItemProps {
  entry: Entry;
  mine: boolean;
  /** Our latest message carries "Delivered" / "Seen"; older ones only an unusual state. */
  latestMine: boolean;
  onRetry: () => void;
  /** In a group: the other members who have read up to this message (theirs show their sender instead). */
  seenBy?: string[];
}

export function MessageItem({ entry, mine, latestMine, onRetry, seenBy }: MessageItemProps) {
  const { message } = entry;
  const receipt = mine ? receiptOf(entry, latestMine, seenBy) : null;
  const inGroup = seenBy !== undefined;
  return (
    <li class={`message ${mine ? 'mine' : 'theirs'}`} data-id={message.id || undefined}>
      <div class="bubble">
        {inGroup && !mine ? (
          <p class="sender" dir="auto">
            {message.sender}
          </p>
        ) : (
          <span class="sr-only">{mine ? 'You' : message.sender}: </span>
        )}
        {message.deleted ? (
          <p class="text deleted">This message was deleted.</p>
        ) : (
          <p class="text" dir="auto">
            {message.message}
          </p>
        )}
        <p class="meta">
          {message.id !== 0 && (
            <time dateTime={message.timestamp} title={fullTime(message.timestamp)}>
              {messageTime(message.timestamp)}
            </time>
          )}
          {message.edited_at && !message.deleted && (
            <span class="edited" title={`Edited ${fullTime(message.edited_at)}`}>
              edited
            </span>
          )}
          {receipt && <span class={`receipt ${receipt.tone}`}>{receipt.text}</span>}
        </p>
        {entry.error && (
          <p class="send-error" role="alert">
            Not sent: {entry.error.detail}
            {entry.error.retryable && (
              <button type="button" class="retry" onClick={onRetry}>
                Retry
              </button>
            )}
          </p>
        )}
      </div>
    </li>
  );
}

function receiptOf(entry: Entry, latest: boolean, seenBy: string[] | undefined): { text: string; tone: string } | null {
  if (entry.sending) return { text: 'Sending…', tone: 'pending' };
  if (entry.error) return null;
  const { message } = entry;
  if (message.status === 'failed') return { text: 'Not delivered', tone: 'bad' };
  if (message.status === 'queued') return { text: 'Will be delivered', tone: 'pending' };
  if (!latest) return null;
  if (seenBy?.length) return { text: `Seen by ${listText(seenBy)}`, tone: 'good' };
  return message.read_at ? { text: 'Seen', tone: 'good' } : { text: 'Delivered', tone: 'good' };
}
