// A conversation's messages, a partner's or a group's: its history (older pages load when
// scrolling up). The log keeps its place: at the bottom while new messages come, still while
// older ones load.
import type { JSX } from 'preact';
import { useLayoutEffect, useRef } from 'preact/hooks';
import type { ConversationKey } from './chat/conversation-key.js';
import type { Entry } from './chat/history.js';
import type { ChatStore } from './chat/store.js';

const NEAR_EDGE_PX = 120;

interface MessageLogProps {
  store: ChatStore;
  conversation: ConversationKey;
  label: string;
  /** One message; `latestMine` for our newest one, which carries the receipt. */
  item: (entry: Entry, latestMine: boolean) => JSX.Element;
}

export function MessageLog({ store, conversation, label, item }: MessageLogProps) {
  const history = store.histories.get(conversation);
  const entries = history?.entries ?? [];
  const scroller = useRef<HTMLDivElement>(null);
  const fromBottom = useRef(0);
  const atBottom = useRef(true);
  const edges = useRef<{ first: string | null; last: string | null }>({ first: null, last: null });
  const canLoadOlder = Boolean(history?.next) && history?.state === 'loaded';

  useLayoutEffect(() => {
    const element = scroller.current;
    if (!element) return;
    const first = entries[0]?.key ?? null;
    const last = entries.at(-1)?.key ?? null;
    const lastEntry = entries.at(-1);
    if (last !== edges.current.last) {
      if (atBottom.current || (lastEntry && store.isMine(lastEntry.message))) element.scrollTop = element.scrollHeight;
    } else if (first !== edges.current.first) {
      element.scrollTop = element.scrollHeight - fromBottom.current;
    }
    edges.current = { first, last };
    fromBottom.current = element.scrollHeight - element.scrollTop;
    // Too few messages to scroll: fetch older ones now, as no scroll event can ask for them.
    if (canLoadOlder && element.scrollHeight <= element.clientHeight) void store.loadHistory(conversation, true);
  });

  const onScroll = () => {
    const element = scroller.current;
    if (!element) return;
    fromBottom.current = element.scrollHeight - element.scrollTop;
    atBottom.current = fromBottom.current - element.clientHeight < NEAR_EDGE_PX;
    if (element.scrollTop < NEAR_EDGE_PX && canLoadOlder) void store.loadHistory(conversation, true);
  };

  let latestMine = -1;
  entries.forEach((entry, index) => {
    if (store.isMine(entry.message)) latestMine = index;
  });

  return (
    <div class="messages" ref={scroller} onScroll={onScroll} tabIndex={0} role="log" aria-label={label}>
      {canLoadOlder && (
        <button type="button" class="secondary older" onClick={() => void store.loadHistory(conversation, true)}>
          Load older messages
        </button>
      )}
      {history?.state === 'loading' && <p class="muted center">Loading messages…</p>}
      {history?.state === 'error' && (
        <p class="form-error" role="alert">
          {history.error}{' '}
          <button type="button" class="link" onClick={() => void store.loadHistory(conversation)}>
            Try again
          </button>
        </p>
      )}
      {history?.state === 'loaded' && entries.length === 0 && <p class="muted center">No messages yet. Say hello!</p>}
      <ol class="message-list">{entries.map((entry, index) => item(entry, index === latestMine))}</ol>
    </div>
  );
}
