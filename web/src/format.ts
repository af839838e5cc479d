// Times in the browser's own locale and time zone.
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
