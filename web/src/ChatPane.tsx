// A conversation with one partner: their state (typing, online, last seen), the messages, and
// the composer.
import { direct, type ConversationKey } from './chat/conversation-key.js';
import type { ChatStore } from './chat/store.js';
import { Composer } from './Composer.js';
import { presenceText } from './format.js';
import { MessageItem } from './MessageItem.js';
import { MessageLog } from './MessageLog.js';
import { PaneHeader } from './PaneHeader.js';

export function ChatPane({ store, partner, onTyping }: { store: ChatStore; partner: string; onTyping: (conversation: ConversationKey) => void }) {
  const named = store.list.get(direct(partner))?.conversation;
  // The server's spelling of the address once known, else the one in the page's address.
  const conversation = direct(named?.kind === 'direct' ? named.with : partner);
  const address = conversation.with;
  // "typing…", "online", "last seen …", or nothing when the server does not say (not a partner yet).
  const state = store.activity.typists(conversation).length > 0 ? 'typing…' : presenceText(store.activity.presenceOf(address));

  return (
    <section class="chat" aria-labelledby="chat-title">
      <PaneHeader titleId="chat-title" title={address}>
        <p class="presence" aria-live="polite" data-testid="partner-state">
          {state}
        </p>
      </PaneHeader>
      <MessageLog
        store={store}
        conversation={conversation}
        label={`Messages with ${address}`}
        item={(entry, latestMine) => <MessageItem key={entry.key} entry={entry} mine={store.isMine(entry.message)} latestMine={latestMine} onRetry={() => store.retry(entry)} />}
      />
      <Composer to={address} onSend={(text) => store.send(conversation, text)} onTyping={() => onTyping(conversation)} />
    </section>
  );
}
