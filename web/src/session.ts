// The signed-in session, kept in localStorage so a reload (or a new tab) stays signed in.
import type { User } from './api.js';

export interface Session {
  token: string;
  user: User;
}

const KEY = 'realchat.session';

export function loadSession(): Session | null {
  try {
    const parsed = JSON.parse(localStorage.getItem(KEY) ?? 'null') as Partial<Session> | null;
    return parsed && typeof parsed.token === 'string' && parsed.user ? (parsed as Session) : null;
  } catch {
    // Storage disabled or a corrupted value: start signed out.
    return null;
  }
}

export function saveSession(session: Session | null): void {
  try {
    if (session) localStorage.setItem(KEY, JSON.stringify(session));
    else localStorage.removeItem(KEY);
  } catch {
    // Storage disabled: the session lasts as long as the page.
  }
}
