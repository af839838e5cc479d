// A group conversation: its name, who is typing, the messages with their senders' names, the
// composer, and the group's details (members, roles, and the changes one may make) beside them.
import { useState } from 'preact/hooks';
import { group, type ConversationKey } from './chat/conversation-key.js';
import { seenBy } from './chat/groups.js';
import type { ChatStore } from './chat/store.js';
import { Composer } from './Composer.js';
import { typingText } from './format.js';
import { GroupDetails } from './GroupDetails.js';
import { MessageItem } from './MessageItem.js';
import { MessageLog } from './MessageLog.js';
import { PaneHeader } from './PaneHeader.js';

export function GroupPane({ store, id, onTyping }: { store: ChatStore; id: string; onTyping: (conversation: ConversationKey) => void }) {
  const [showDetails, setShowDetails] = useState(false);
  const conversation = group(id);
  const details = store.groups.details(id);
  const summary = store.groups.summary(id);
  const name = summary?.name ?? 'Group';
  const count = summary?.members_count;
  const typing = typingText(store.activity.typists(conversation));
  const me = store.user.username;

  return (
    <section class="chat group" aria-labelledby="chat-title">
      <PaneHeader
        titleId="chat-title"
        title={name}
        subtitle={
          <p class="subtitle" aria-live="polite" data-testid="group-state">
            {typing || (count === undefined ? '' : `${count} ${count === 1 ? 'member' : 'members'}`)}
          </p>
        }
      >
        <button type="button" class="secondary" aria-expanded={showDetails} aria-controls="group-details" onClick={() => setShowDetails(!showDetails)}>
          Members
        </button>
      </PaneHeader>
      <div class={`group-body${showDetails ? ' details-open' : ''}`}>
        <div class="group-conversation">
          <MessageLog
            store={store}
            conversation={conversation}
            label={`Messages in ${name}`}
            item={(entry, latestMine) => (
              <MessageItem
                key={entry.key}
                entry={entry}
                mine={store.isMine(entry.message)}
                latestMine={latestMine}
                onRetry={() => store.retry(entry)}
                seenBy={details && latestMine ? seenBy(details, me, entry.message.id) : []}
              />
            )}
          />
          <Composer to={name} onSend={(text) => store.send(conversation, text)} onTyping={() => onTyping(conversation)} />
        </div>
        {showDetails && <GroupDetails store={store} id={id} />}
      </div>
    </section>
  );
}
