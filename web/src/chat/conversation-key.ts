// Which conversation something belongs to, as a typed value, and the one map key made of it.
// Every piece of client state is held by that key, so a new kind of conversation changes this file.
import type { Conversation, Message, SendTarget } from '../api.js';

export interface DirectConversation {
  kind: 'direct';
  /** The partner in address form (`bob` or `bob@b`), as the server or the person wrote it. */
  with: string;
}

export interface GroupConversation {
  kind: 'group';
  id: string;
}

export type ConversationKey = DirectConversation | GroupConversation;

/** The string a Map holds a conversation under: made here only, never taken apart. */
export type MapKey = string & { readonly brand: 'ConversationMapKey' };

export function direct(address: string): DirectConversation {
  return { kind: 'direct', with: address };
}

export function group(id: string): GroupConversation {
  return { kind: 'group', id };
}

export function mapKey(conversation: ConversationKey): MapKey {
  // Addresses are compared ignoring case, as usernames are unique ignoring case; a group id is a
  // uuid, whose hex digits may come in either case.
  return (conversation.kind === 'direct' ? `direct ${userKey(conversation.with)}` : `group ${conversation.id.toLowerCase()}`) as MapKey;
}

/** A user's presence and typing are held by this: their address ignoring case. */
export function userKey(address: string): string {
  return address.toLowerCase();
}

export function isMine(message: Message, me: string): boolean {
  return userKey(message.sender) === userKey(me);
}

/** The conversation a message belongs to, seen by `me`: a direct one is named after the other side. */
export function conversationOf(message: Message, me: string): ConversationKey {
  if (message.group) return group(message.group);
  // A message without a group always has a receiver.
  return direct(isMine(message, me) ? (message.receiver ?? '') : message.sender);
}

/** The conversation a row of `GET /accounts/conversations/` stands for. */
export function conversationOfSummary(summary: Conversation): ConversationKey {
  return summary.group ? group(summary.group.id) : direct(summary.with ?? '');
}

/** Whom a message to this conversation is sent to. */
export function sendTarget(conversation: ConversationKey): SendTarget {
  return conversation.kind === 'direct' ? { receiver: conversation.with } : { group: conversation.id };
}

/** The query that names the conversation to `GET /accounts/messages/`. */
export function historyQuery(conversation: ConversationKey): Record<string, string> {
  return conversation.kind === 'direct' ? { with: conversation.with } : { group: conversation.id };
}
