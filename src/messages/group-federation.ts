// Where a group's message events go across backends (groups.md, "Groups across backends"), pure:
// at the group's home, every event (a message, an edit, a delete, a read) goes as a
// `group_message` to every other backend with members, the one it came from included; on a
// member's backend, an event of one of its own users goes as a `group_post` to the home, and an
// event the home sent here goes nowhere.
import { qualifiedName } from '../conversations/addresses.js';
import type { ConversationId, Member } from '../conversations/members.js';
import { groupLine, type GroupMessageKind, type GroupOutboxRequest } from './ports.js';

/** A group as its events need it: `home` null when this backend is its home. */
export interface FederatedGroup {
  id: ConversationId;
  uuid: string;
  home: string | null;
}

/** Something a member did to a group's message, at `at`. */
export interface GroupMessageEvent {
  kind: GroupMessageKind;
  message: { id: number; uuid: string };
  actor: Member;
  at: number;
}

export interface GroupSite {
  /** This backend's SERVER_NAME: its users are `name@serverName` on the wire. */
  serverName: string;
  /** A fresh item id. */
  newId(): string;
}

/**
 * The outbox entries an event makes: `memberServers` are the backends of the group's remote
 * members (at the home, read with the change, in the same transaction).
 */
export function groupEventEntries(group: FederatedGroup, memberServers: readonly string[], event: GroupMessageEvent, site: GroupSite): GroupOutboxRequest[] {
  const timestamp = new Date(event.at).toISOString();
  const base = { messageId: event.message.id, conversationId: group.id, receiverKey: groupLine(group.uuid) };
  if (group.home !== null) {
    if (event.actor.kind !== 'local') return [];
    const fields = { group: group.uuid, kind: event.kind, sender: event.actor.username, message: event.message.uuid, timestamp };
    return [{ ...base, server: group.home, id: site.newId(), group: { type: 'group_post', fields } }];
  }
  const sender = qualifiedAddress(event.actor, site.serverName);
  return distinctServers(memberServers).map((server) => ({
    ...base,
    server,
    id: site.newId(),
    group: {
      type: 'group_message',
      fields: { group: group.uuid, kind: event.kind, message: event.message.uuid, sender, ...(event.kind === 'message' ? { position: event.message.id } : {}), timestamp },
    },
  }));
}

/** A member as group items name them: `name@server`, this backend's users under its SERVER_NAME. */
export function qualifiedAddress(member: Member, serverName: string): string {
  return member.kind === 'local' ? qualifiedName(member.username, serverName) : qualifiedName(member.name, member.server);
}

/** Each backend once, whatever the case its members' rows spell it in. */
export function distinctServers(servers: readonly string[]): string[] {
  const seen = new Map<string, string>();
  for (const server of servers) if (!seen.has(server.toLowerCase())) seen.set(server.toLowerCase(), server);
  return [...seen.values()];
}
