// Times in the browser's own locale and time zone, and the states the page words with them.
import type { Presence } from './api.js';

const timeOfDay = new Intl.DateTimeFormat(undefined, { timeStyle: 'short' });
const dayOfYear = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });
const fullDate = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
const complete = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'medium' });
const longDate = new Intl.DateTimeFormat(undefined, { dateStyle: 'long' });

/** Short form for lists: the time today, the day this year, the date before. */
export function shortTime(iso: string, now = new Date()): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  if (date.toDateString() === now.toDateString()) return timeOfDay.format(date);
  if (date.getFullYear() === now.getFullYear()) return dayOfYear.format(date);
  return fullDate.format(date);
}

export function messageTime(iso: string, now = new Date()): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  if (date.toDateString() === now.toDateString()) return timeOfDay.format(date);
  return `${shortTime(iso, now)}, ${timeOfDay.format(date)}`;
}

/** The full moment, for the title of a <time>. */
export function fullTime(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? '' : complete.format(date);
}

export function day(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? '' : longDate.format(date);
}

/** "online", "last seen …", "offline", or nothing when the server does not say (not a partner yet). */
export function presenceText(presence: Presence | undefined): string {
  if (!presence) return '';
  if (presence.status === 'online') return 'online';
  return presence.last_seen ? `last seen ${shortTime(presence.last_seen)}` : 'offline';
}

/** Who is typing in a group: "alice is typing…", "alice and bob are typing…", "alice, bob and 2 others are typing…". */
export function typingText(names: string[]): string {
  if (names.length === 0) return '';
  if (names.length === 1) return `${names[0]} is typing…`;
  return `${listText(names)} are typing…`;
}

/** Names as a sentence says them, the first two by name and the rest counted past three. */
export function listText(names: string[]): string {
  if (names.length <= 1) return names.join('');
  if (names.length <= 3) return `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
  return `${names.slice(0, 2).join(', ')} and ${names.length - 2} others`;
}
