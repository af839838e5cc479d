// The conversations: start one by address, then one row per partner, most recent first,
// with the last message, its time and the unread count.
import { useEffect, useState } from 'preact/hooks';
import { mapKey } from './chat/conversation-key.js';
import type { ChatStore } from './chat/store.js';
import { fullTime, shortTime } from './format.js';
import { chatPath, navigate } from './router.js';

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
      <h2 id="conversations-title" class="section-title">
        Conversations
      </h2>
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
          // Only direct conversations exist so far: a row is named by its partner's address.
          if (row.conversation.kind !== 'direct') return null;
          const address = row.conversation.with;
          const mine = row.last ? store.isMine(row.last) : false;
          return (
            <li key={mapKey(row.conversation)}>
              <a class="conversation" href={chatPath(address)} aria-current={store.isOpen(row.conversation) ? 'page' : undefined}>
                <span class="partner" dir="auto">
                  {address}
                </span>
                {row.last && (
                  <time class="when" dateTime={row.last.timestamp} title={fullTime(row.last.timestamp)}>
                    {shortTime(row.last.timestamp)}
                  </time>
                )}
                <span class="preview" dir="auto">
                  {row.last ? `${mine ? 'You: ' : ''}${row.last.deleted ? 'Message deleted' : row.last.message}` : 'No messages yet'}
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
    navigate(chatPath(value));
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
