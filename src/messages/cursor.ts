// Opaque pagination cursors: a message id, encoded so clients do not build or parse them.
import { ValidationFailed } from '../http/errors.js';

const PREFIX = 'm';

export function encodeCursor(messageId: number): string {
  return Buffer.from(`${PREFIX}${messageId}`, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string, field: string): number {
  const text = /^[A-Za-z0-9_-]{1,40}$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  const match = /^m([1-9][0-9]{0,15})$/.exec(text);
  if (!match) throw new ValidationFailed({ [field]: ['Invalid cursor.'] });
  return Number(match[1]);
}
