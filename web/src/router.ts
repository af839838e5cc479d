// The client's few addresses: `/` (conversations), `/c/<partner>` (a chat), `/g/<id>` (a group),
// `/groups/new`, `/profile`. Real paths rather than fragments, so a reload or a shared link opens
// the same view.
import { useEffect, useState } from 'preact/hooks';
import { direct, group, type ConversationKey } from './chat/conversation-key.js';

export type Route = { view: 'list' } | { view: 'chat'; conversation: ConversationKey } | { view: 'new-group' } | { view: 'profile' };

export const NEW_GROUP_PATH = '/groups/new';

export function parseRoute(pathname: string): Route {
  if (pathname === '/profile') return { view: 'profile' };
  if (pathname === NEW_GROUP_PATH) return { view: 'new-group' };
  const chat = /^\/([cg])\/([^/]+)$/.exec(pathname);
  if (chat) {
    try {
      const name = decodeURIComponent(chat[2]!);
      return { view: 'chat', conversation: chat[1] === 'c' ? direct(name) : group(name) };
    } catch {
      return { view: 'list' };
    }
  }
  return { view: 'list' };
}

export function chatPath(conversation: ConversationKey): string {
  return conversation.kind === 'direct' ? `/c/${encodeURIComponent(conversation.with)}` : `/g/${encodeURIComponent(conversation.id)}`;
}

const CHANGE = 'realchat:navigate';

export function navigate(path: string, replace = false): void {
  if (path === location.pathname) return;
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  window.dispatchEvent(new Event(CHANGE));
}

/** Follows links inside the app without a page load (plain clicks only: new tabs keep working). */
export function followLink(event: MouseEvent): void {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const link = (event.target as Element | null)?.closest('a');
  if (!link || link.origin !== location.origin || link.target) return;
  event.preventDefault();
  navigate(link.pathname);
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.pathname));
  useEffect(() => {
    const update = () => setRoute(parseRoute(location.pathname));
    window.addEventListener('popstate', update);
    window.addEventListener(CHANGE, update);
    return () => {
      window.removeEventListener('popstate', update);
      window.removeEventListener(CHANGE, update);
    };
  }, []);
  return route;
}
