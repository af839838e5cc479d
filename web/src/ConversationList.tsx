// The conversations: start one by address or create a group, then one row per partner or
// group, most recent first, with the last message, its time and the unread count.
import { useEffect, useState } from 'preact/hooks';
import { direct, mapKey } from './chat/conversation-key.js';
import type { Row } from './chat/list.js';
import type { ChatStore } from './chat/store.js';
import { fullTime, shortTime } from './format.js';
import { chatPath, navigate, NEW_GROUP_PATH } from './router.js';

// Marked once per page load: what "time to an interactive chat list" is measured against.
let readyMarked = false;

export function ConversationList({ store }: { store: ChatStore }) {
  const ready = store.list.state === 'ready';
  useEffect(() => {
    if (ready && !readyMarked) {
      readyMarked = true;
      performance.mark('realchat:conversations-ready');
    }
  }, [ready]);

  const rows = store.list.sorted();
  return (
    <nav class="conversations-nav" aria-labelledby="conversations-title">
      <NewConversation />
      <p class="new-group">
        <a class="button secondary wide" href={NEW_GROUP_PATH}>
          New group
        </a>
      </p>
      <h2 id="conversations-title" class="section-title">
        Conversations
      </h2>
      <p class="notice pad" role="status">
        {store.notice}
      </p>
      {store.list.state === 'loading' && <p class="muted pad">Loading conversations…</p>}
      {store.list.error && (
        <p class="form-error pad" role="alert">
          {store.list.error}{' '}
          <button type="button" class="link" onClick={() => void store.list.retry()}>
            Try again
          </button>
        </p>
      )}
      {ready && rows.length === 0 && <p class="muted pad">No conversations yet. Start one above.</p>}
      <ul class="conversations" aria-busy={!ready}>
        {rows.map((row) => {
          const title = row.conversation.kind === 'direct' ? row.conversation.with : (store.groups.summary(row.conversation.id)?.name ?? 'Group');
          return (
            <li key={mapKey(row.conversation)}>
              <a class="conversation" data-kind={row.conversation.kind} href={chatPath(row.conversation)} aria-current={store.isOpen(row.conversation) ? 'page' : undefined}>
                <span class="partner" dir="auto">
                  {title}
                </span>
                {row.last && (
                  <time class="when" dateTime={row.last.timestamp} title={fullTime(row.last.timestamp)}>
                    {shortTime(row.last.timestamp)}
                  </time>
                )}
                <span class="preview" dir="auto">
                  {preview(store, row)}
                </span>
                {row.unread > 0 && (
                  <span class="badge">
                    {row.unread}
                    <span class="sr-only"> unread</span>
                  </span>
                )}
              </a>
            </li>
          );
        })}
      </ul>
      {store.list.next && (
        <button type="button" class="secondary wide" onClick={() => void store.list.loadMore()}>
          Show older conversations
        </button>
      )}
    </nav>
  );
}

/** The last message, after who wrote it: "You: " for ours, and in a group the sender's name. */
function preview(store: ChatStore, row: Row): string {
  if (!row.last) return 'No messages yet';
  const author = store.isMine(row.last) ? 'You: ' : row.conversation.kind === 'group' ? `${row.last.sender}: ` : '';
  return `${author}${row.last.deleted ? 'Message deleted' : row.last.message}`;
}

function NewConversation() {
  const [address, setAddress] = useState('');
  const [error, setError] = useState<string | null>(null);

  const submit = (event: Event) => {
    event.preventDefault();
    const value = address.trim();
    if (!value || /\s/.test(value)) {
      setError('Enter a username, or user@backend for someone on another server.');
      return;
    }
    setError(null);
    setAddress('');
    navigate(chatPath(direct(value)));
  };

  return (
    <form class="new-conversation" onSubmit={submit} noValidate>
      <label for="new-partner">Start a conversation</label>
      <div class="inline">
        <input
          id="new-partner"
          value={address}
          onInput={(event) => setAddress(event.currentTarget.value)}
          placeholder="user or user@backend"
          autoComplete="off"
          autoCapitalize="none"
          spellcheck={false}
          aria-invalid={error ? 'true' : undefined}
          aria-describedby={error ? 'new-partner-error' : undefined}
        />
        <button type="submit">Open</button>
      </div>
      {error && (
        <p id="new-partner-error" class="field-errors">
          {error}
        </p>
      )}
    </form>
  );
}
