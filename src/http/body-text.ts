// A request body's text. Bytes that are not UTF-8 are refused: decoding would replace them with
// U+FFFD, and the message would be stored other than it was sent (api.md: bodies are UTF-8).
import { isUtf8 } from 'node:buffer';
import { BadRequest } from './errors.js';

export function bodyText(body: Buffer): string {
  if (!isUtf8(body)) throw new BadRequest('malformed_json', 'The body is not valid UTF-8.');
  return body.toString('utf8');
}
