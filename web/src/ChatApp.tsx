// The signed-in client: top bar, connection state, conversations and the open view.
// Owns the store and the WebSocket for as long as the session lasts.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { Api, ApiError, type User } from './api.js';
import { ChatPane } from './ChatPane.js';
import { mapKey, type ConversationKey } from './chat/conversation-key.js';
import { ChatStore } from './chat/store.js';
import { ConversationList } from './ConversationList.js';
import { GroupPane } from './GroupPane.js';
import { LiveConnection, liveUrl } from './live.js';
import { NewGroupView } from './NewGroupView.js';
import { ProfileView } from './ProfileView.js';
import { chatPath, followLink, navigate, useRoute } from './router.js';
import type { Session } from './session.js';

interface ChatAppProps {
  session: Session;
  onSignedOut: () => void;
  onUser: (user: User) => void;
}

function useStore(store: ChatStore): void {
  const [, setVersion] = useState(0);
  useEffect(() => store.subscribe(() => setVersion((version) => version + 1)), [store]);
}

export function ChatApp({ session, onSignedOut, onUser }: ChatAppProps) {
  const api = useMemo(() => new Api(session.token, onSignedOut), [session.token, onSignedOut]);
  const store = useMemo(() => new ChatStore(api, session.user, (conversation) => navigate(conversation ? chatPath(conversation) : '/', true)), [api]);
  const live = useRef<LiveConnection | null>(null);
  const [leaving, setLeaving] = useState(false);
  const route = useRoute();
  useStore(store);

  useEffect(() => {
    const connection = new LiveConnection(
      liveUrl(location),
      session.token,
      {
        onEvent: (event) => store.handleEvent(event),
        onState: (state) => store.setLive(state),
        onConnected: (first, replayed) => void store.catchUp(first, replayed),
        onGone: () => void store.reload(),
        onRejected: onSignedOut,
      },
      async () => {
        try {
          await api.me();
          return true;
        } catch (error) {
          return !(error instanceof ApiError && error.status === 401);
        }
      },
    );
    live.current = connection;
    const visibility = () => store.setVisible(document.visibilityState === 'visible');
    visibility();
    document.addEventListener('visibilitychange', visibility);
    void store.list.load();
    api.me().then(
      (user) => {
        store.setUser(user);
        onUser(user);
      },
      () => {
        // A 401 has signed us out already; anything else leaves the stored user in place.
      },
    );
    connection.start();
    return () => {
      connection.stop();
      store.dispose();
      document.removeEventListener('visibilitychange', visibility);
    };
  }, [store]);

  const open = route.view === 'chat' ? route.conversation : null;
  const openKey = open && mapKey(open);
  useEffect(() => {
    store.closeConversation();
    if (open) store.openConversation(open);
  }, [store, openKey]);
  const typing = (conversation: ConversationKey) => live.current?.typing(conversation);

  const unread = [...store.list.rows.values()].reduce((sum, row) => sum + row.unread, 0);
  useEffect(() => {
    document.title = unread > 0 ? `(${unread}) RealChat` : 'RealChat';
  }, [unread]);

  const logout = async () => {
    setLeaving(true);
    try {
      await api.logout();
    } catch {
      // Signed out here either way; the token expires on its own if the server missed this.
    }
    onSignedOut();
  };

  const user = store.user;
  return (
    <div class="app" data-view={route.view} onClick={followLink}>
      <header class="topbar">
        <a class="brand" href="/">
          RealChat
        </a>
        <span class="whoami">
          Signed in as{' '}
          <strong dir="auto" data-testid="me">
            {user.username}
          </strong>
        </span>
        <nav class="account" aria-label="Account">
          <a class="button secondary" href="/profile" aria-current={route.view === 'profile' ? 'page' : undefined}>
            Profile
          </a>
          <button type="button" class="secondary" onClick={logout} disabled={leaving}>
            Log out
          </button>
        </nav>
      </header>
      <div class={`connection ${store.live}`} role="status">
        {store.live === 'reconnecting' && (
          <>
            <span>Reconnecting…</span>
            <button type="button" class="link" onClick={() => live.current?.retryNow()}>
              Retry now
            </button>
          </>
        )}
      </div>
      <div class="layout">
        <aside class="sidebar">
          <ConversationList store={store} />
        </aside>
        <main class="pane">
          {route.view === 'chat' && route.conversation.kind === 'direct' && <ChatPane key={openKey} store={store} partner={route.conversation.with} onTyping={typing} />}
          {route.view === 'chat' && route.conversation.kind === 'group' && <GroupPane key={openKey} store={store} id={route.conversation.id} onTyping={typing} />}
          {route.view === 'new-group' && <NewGroupView store={store} />}
          {route.view === 'profile' && (
            <ProfileView
              api={api}
              user={user}
              onUser={(next) => {
                store.setUser(next);
                onUser(next);
              }}
            />
          )}
          {route.view === 'list' && (
            <div class="placeholder">
              <p>Pick a conversation, start one with a username, or create a group.</p>
            </div>
          )}
        </main>
      </div>
    </div>
  );
}
