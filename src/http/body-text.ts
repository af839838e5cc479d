// Text from bytes that must be UTF-8: bytes that are not are refused, for decoding would replace
// them with U+FFFD and a message would be stored other than it was sent (api.md: bodies are UTF-8).
import { isUtf8 } from 'node:buffer';
import { BadRequest } from './errors.js';

export function utf8Text(bytes: Buffer, code: string, detail: string): string {
  if (!isUtf8(bytes)) throw new BadRequest(code, detail);
  return bytes.toString('utf8');
}

/** A request body's text; 400 malformed_json when it is not UTF-8. */
export function bodyText(body: Buffer): string {
  return utf8Text(body, 'malformed_json', 'The body is not valid UTF-8.');
}
