// Field rules for accounts, with DRF-style messages collected per field.
import type { FieldErrors } from '../http/errors.js';
import { foldKey } from '../unicode/fold.js';
import { mixesScripts } from '../unicode/lookalikes.js';

const USERNAME_PATTERN = /^[\p{L}\p{N}_.-]{3,150}$/u;
// Pragmatic address check: one @, no spaces, a dotted domain; the mailbox itself is the proof.
const EMAIL_PATTERN = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/u;

export class FieldCollector {
  readonly errors: FieldErrors = {};

  add(field: string, message: string): void {
    (this.errors[field] ??= []).push(message);
  }

  get empty(): boolean {
    return Object.keys(this.errors).length === 0;
  }
}

// The lengths of the columns that hold a name and its folded key; NFKC can make a key longer
// than its name (one character may fold into up to 18), so both are checked.
const USERNAME_MAX_LENGTH = 150;
const EMAIL_MAX_LENGTH = 254;

export function checkUsername(username: string, fields: FieldCollector): void {
  if (!username) fields.add('username', 'This field may not be blank.');
  else if (!USERNAME_PATTERN.test(username) || foldKey(username).length > USERNAME_MAX_LENGTH) {
    fields.add('username', 'Enter a valid username: 3 to 150 letters, digits and _ . - characters.');
  } else if (mixesScripts(username)) {
    fields.add('username', 'Enter a valid username: its letters must all be of one script (not Latin and Cyrillic mixed, for example).');
  }
}

export function checkEmail(email: string, fields: FieldCollector): void {
  if (!email) fields.add('email', 'This field may not be blank.');
  else if (email.length > EMAIL_MAX_LENGTH || foldKey(email).length > EMAIL_MAX_LENGTH || !EMAIL_PATTERN.test(email)) {
    fields.add('email', 'Enter a valid email address.');
  }
}

/** Normalises a phone number (spaces and dashes stripped) or records why it is not one. */
export function normalizePhoneNumber(raw: string, fields: FieldCollector): string | null {
  const compact = raw.replace(/[\s-]/g, '');
  if (compact === '') return null;
  if (!/^\+?\d{7,15}$/.test(compact)) {
    fields.add('phone_number', 'Enter a valid phone number: an optional + then 7 to 15 digits.');
    return null;
  }
  return compact;
}
