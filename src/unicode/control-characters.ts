// Control characters in text: U+0000 anywhere (DRF's "Null characters are not allowed.";
// PostgreSQL cannot store it in text) and lone surrogates, and every other control character in
// names, addresses, codes and ids; prose keeps its tabs and line breaks. The request hook
// (http/control-characters.ts) applies these to clients' input, services to what peers send.

/** Message text: tabs and line breaks may appear there (multi-line messages). */
const PROSE_FIELDS = new Set(['message', 'content']);
const CONTROL_IN_PROSE = /(?![\t\n\r])\p{Cc}/u;
/** Passwords are only hashed, never stored or shown: any character but U+0000 may be part of one. */
const SECRET_FIELDS = new Set(['password', 'current_password']);
const CONTROL_CHARACTER = /\p{Cc}/u;

/**
 * For what arrives sealed from peers (never seen by the hook): why a message text (`prose`) or a
 * name may not be stored, if it may not.
 */
export function controlCharactersIn(text: string, kind: 'prose' | 'name'): string | undefined {
  return controlCharacterProblem(text, kind === 'prose' ? 'message' : '');
}

// Half of a UTF-16 pair alone (JSON's "\ud800"): no character at all; stored as UTF-8 it would
// come back as U+FFFD, so what a client was answered and what it reads later would differ.
const LONE_SURROGATE = /\p{Cs}/u;

/** Why the text of a field named `field` (`message`, `password`, a name) may not be taken, if it may not. */
export function controlCharacterProblem(text: string, field: string): string | undefined {
  if (text.includes('\u0000')) return 'Null characters are not allowed.';
  if (LONE_SURROGATE.test(text)) return 'Lone surrogates are not allowed: send valid Unicode.';
  if (SECRET_FIELDS.has(field)) return undefined;
  const control = PROSE_FIELDS.has(field) ? CONTROL_IN_PROSE : CONTROL_CHARACTER;
  return control.test(text) ? 'Control characters are not allowed.' : undefined;
}
