// The sealed form (the original's EncryptionMiddleware): a body that is the base64url of a
// Fernet token of a JSON object. A transport hook opens it before any route code runs. Answers
// stay plain JSON: sealing them would hand any user tokens under a key a compat peer uses.
import type { FastifyInstance } from 'fastify';
import { decodeWireMessage, fernetDecrypt, InvalidFernetToken } from '../crypto/fernet.js';
import { bodyText, utf8Text } from './body-text.js';
import { BadRequest } from './errors.js';

export const SEALED_TYPE = 'application/vnd.realchat.sealed';

export interface SealOptions {
  /** Fernet keys that open a body. */
  keys: Buffer[];
  maxAgeMs: number;
  clock: () => number;
}

/**
 * A wire-form Fernet token opened under the keys within maxAgeMs: the token as decoded and its
 * text; a token that does not open (tampered, wrong key, expired) is 400 invalid_token_payload
 * with the given detail.
 */
export function openFernetText(message: string, options: SealOptions, detail: string): { token: string; text: string } {
  try {
    const token = decodeWireMessage(message.trim());
    const now = Math.floor(options.clock() / 1000);
    const plain = fernetDecrypt(options.keys, token, { now, ttlSeconds: Math.floor(options.maxAgeMs / 1000) });
    return { token, text: utf8Text(plain, 'invalid_token_payload', 'The token does not hold UTF-8 text.') };
  } catch (error) {
    if (error instanceof InvalidFernetToken) throw new BadRequest('invalid_token_payload', detail);
    throw error;
  }
}

/** The JSON object inside a sealed body, or 400 invalid_token_payload. */
export function openSealed(body: string, options: SealOptions): Record<string, unknown> {
  const { text } = openFernetText(body, options, UNOPENED);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalidPayload();
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidPayload();
  return value as Record<string, unknown>;
}

const UNOPENED = 'The sealed body could not be opened.';

function invalidPayload(): BadRequest {
  return new BadRequest('invalid_token_payload', UNOPENED);
}

/**
 * Installs the hook in an encapsulated plugin: a JSON body passes as JSON, anything else (or
 * the sealed media type) is opened under the keys.
 */
export function installSealedForm(app: FastifyInstance, options: SealOptions): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => {
    try {
      done(null, parseJsonOrSealed(bodyText(body as Buffer).trim(), options));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => {
    try {
      done(null, openSealed(bodyText(body as Buffer), options));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
}

function parseJsonOrSealed(text: string, options: SealOptions): unknown {
  // An empty body is no data, as DRF reads it: the route then names the fields it misses.
  if (text === '') return {};
  // Something that starts like JSON is meant as JSON; a token never starts with { or [.
  if (!text.startsWith('{') && !text.startsWith('[')) return openSealed(text.replace(/^"|"$/g, ''), options);
  try {
    return JSON.parse(text);
  } catch {
    throw new BadRequest('malformed_json', 'The body is not valid JSON.');
  }
}
