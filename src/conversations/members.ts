// Who takes part in a conversation, typed: a user of this backend or a user of a peer. The
// stored forms (a member's key, a direct conversation's key) are made here and only here, and
// never parsed back: code reads the typed member or the member row's columns.
import { foldKey } from '../unicode/fold.js';

/** A conversation's id on this backend. */
export type ConversationId = number & { readonly __brand: 'ConversationId' };

export type LocalMember = { kind: 'local'; userId: number; username: string };
/** A user of a peer; a compat peer (the original backend) tells `zed`, `Zed` and `ｚed` apart. */
export type RemoteMember = { kind: 'remote'; server: string; name: string; compat: boolean };
export type Member = LocalMember | RemoteMember;

/** A peer as far as addresses need it. */
export interface KnownPeer {
  name: string;
  compat: boolean;
}

export function conversationId(id: number): ConversationId {
  return id as ConversationId;
}

export function localMember(user: { id: number; username: string }): LocalMember {
  return { kind: 'local', userId: user.id, username: user.username };
}

export function remoteMember(peer: KnownPeer, name: string): RemoteMember {
  return { kind: 'remote', server: peer.name, name, compat: peer.compat };
}

/**
 * A member's key in stored rows: local users by id; remote names folded as our usernames are,
 * but a compat peer's exactly as it sends them.
 */
export function memberKey(member: Member): string {
  return member.kind === 'local' ? `u:${member.userId}` : `r:${member.compat ? member.name : foldKey(member.name)}@${member.server}`;
}

/** The member's address as this backend shows it: `bob` (local) or `bob@b` (a peer's). */
export function addressOf(member: Member): string {
  return member.kind === 'local' ? member.username : `${member.name}@${member.server}`;
}

/** The member's name on their own backend. */
export function nameOf(member: Member): string {
  return member.kind === 'local' ? member.username : member.name;
}

/** One key per direct conversation, the same whichever side sent. */
export function directKey(a: Member, b: Member): string {
  const [first, second] = [memberKey(a), memberKey(b)].sort();
  return `${first}|${second}`;
}

const GROUP_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether a text can be a group's id (a uuid): anything else names no group (404), without a lookup. */
export function isGroupId(text: string): boolean {
  return GROUP_ID.test(text);
}
