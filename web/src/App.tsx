// The root: the sign-in view without a session, the chat with one. The session lives in
// localStorage, so a reload keeps it and a logout in another tab ends it here too.
import { useCallback, useEffect, useState } from 'preact/hooks';
import type { User } from './api.js';
import { AuthView } from './AuthView.js';
import { ChatApp } from './ChatApp.js';
import { loadSession, saveSession, type Session } from './session.js';

export function App() {
  const [session, setSession] = useState<Session | null>(loadSession);

  const signIn = useCallback((next: Session) => {
    saveSession(next);
    setSession(next);
  }, []);

  const signOut = useCallback(() => {
    saveSession(null);
    setSession(null);
  }, []);

  const updateUser = useCallback((user: User) => {
    setSession((current) => {
      if (!current) return current;
      const next = { ...current, user };
      saveSession(next);
      return next;
    });
  }, []);

  useEffect(() => {
    const follow = (event: StorageEvent) => {
      if (event.storageArea === localStorage) setSession(loadSession());
    };
    window.addEventListener('storage', follow);
    return () => window.removeEventListener('storage', follow);
  }, []);

  if (!session) return <AuthView onSignedIn={signIn} />;
  return <ChatApp key={session.token} session={session} onSignedOut={signOut} onUser={updateUser} />;
}
