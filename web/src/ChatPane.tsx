// One conversation: its history (older pages load when scrolling up), and the composer.
// The view keeps its place: at the bottom while new messages come, still while older ones load.
import { useLayoutEffect, useRef } from 'preact/hooks';
import { direct, type DirectConversation } from './chat/conversation-key.js';
import type { ChatStore } from './chat/store.js';
import { Composer } from './Composer.js';
import { shortTime } from './format.js';
import { MessageItem } from './MessageItem.js';

const NEAR_EDGE_PX = 120;

export function ChatPane({ store, partner, onTyping }: { store: ChatStore; partner: string; onTyping: (to: string) => void }) {
  const named = store.list.get(direct(partner))?.conversation;
  // The server's spelling of the address once known, else the one in the page's address.
  const conversation = direct(named?.kind === 'direct' ? named.with : partner);
  const address = conversation.with;
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
    <section class="chat" aria-labelledby="chat-title">
      <header class="pane-header">
        <a class="back" href="/">
          <span aria-hidden="true">‹</span> Conversations
        </a>
        <h2 id="chat-title" dir="auto">
          {address}
        </h2>
        <p class="presence" aria-live="polite" data-testid="partner-state">
          {partnerState(store, conversation)}
        </p>
      </header>
      <div class="messages" ref={scroller} onScroll={onScroll} tabIndex={0} role="log" aria-label={`Messages with ${address}`}>
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
        <ol class="message-list">
          {entries.map((entry, index) => (
            <MessageItem key={entry.key} entry={entry} mine={store.isMine(entry.message)} latestMine={index === latestMine} onRetry={() => store.retry(entry)} />
          ))}
        </ol>
      </div>
      <Composer partner={address} onSend={(text) => store.send(conversation, text)} onTyping={() => onTyping(address)} />
    </section>
  );
}

/** "typing…", "online", "last seen …", or nothing when the server does not say (not a partner yet). */
function partnerState(store: ChatStore, conversation: DirectConversation): string {
  if (store.activity.isTyping(conversation)) return 'typing…';
  const presence = store.activity.presenceOf(conversation.with);
  if (!presence) return '';
  if (presence.status === 'online') return 'online';
  return presence.last_seen ? `last seen ${shortTime(presence.last_seen)}` : 'offline';
}
