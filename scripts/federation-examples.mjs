#!/usr/bin/env node
// The worked examples of docs/federation.md, made by the project's own code (the built dist/)
// from fixed keys, ids and times, so the document cannot drift from what a backend sends.
// `npm run docs:examples` prints them; `-- --write` puts them into docs/federation.md between
// its examples markers; test/docs/examples.test.ts checks that the document holds exactly this.
import { createHash, createHmac } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { encodeWireMessage, fernetEncrypt } from '../dist/crypto/fernet.js';
import { decodeKey, deriveKey, SIGNING_INFO } from '../dist/crypto/keys.js';
import { signRequest } from '../dist/crypto/signing.js';

export const BEGIN = '<!-- worked-examples:begin (made by `npm run docs:examples`; do not edit by hand) -->';
export const END = '<!-- worked-examples:end -->';
const DOCUMENT = new URL('../docs/federation.md', import.meta.url);

// Bytes 0 to 31: a key anyone can type in, and never one to use.
const PEER_KEY = Buffer.from(Array.from({ length: 32 }, (_, i) => i)).toString('base64url') + '=';
// Bytes 0xa0 to 0xaf: Fernet's IV is random in real use; fixed here so the token is reproducible.
const IV = Buffer.from(Array.from({ length: 16 }, (_, i) => 0xa0 + i));
const ORIGIN = 'a';
const DESTINATION = 'b';
const PATH = '/accounts/receive-message/';
const NOW = Date.UTC(2026, 10, 29, 12, 0, 0) / 1000;
const MESSAGE_ID = '0193a5e0-7c1a-7def-8a00-00000000002a';
const EDIT_ID = '0193a5e0-7c1b-7def-8a00-00000000002b';
const DELETE_ID = '0193a5e0-7c1c-7def-8a00-00000000002c';

function sha256Hex(text) {
  return createHash('sha256').update(text).digest('hex');
}

/** The strings each signature version covers, written out to explain them; checked against signRequest below. */
function signedStrings(t, body) {
  const hash = sha256Hex(body);
  return {
    v1: `${t}\nPOST\n${PATH}\n${hash}`,
    v2: `${t}\nPOST\n${PATH}\n${ORIGIN}\n${DESTINATION}\n${hash}`,
  };
}

function sign(signingKey, body, timestamp) {
  const header = signRequest({ signingKey, method: 'POST', path: PATH, body, timestamp, origin: ORIGIN, destination: DESTINATION });
  const versions = Object.fromEntries(header.split(',').map((part) => part.split('=')));
  const strings = signedStrings(String(timestamp), body);
  // If the code and this explanation ever part ways, nothing is printed rather than a wrong example.
  for (const [version, hex] of Object.entries(versions)) {
    if (version === 't') continue;
    const expected = createHmac('sha256', signingKey).update(strings[version]).digest('hex');
    if (expected !== hex) throw new Error(`signRequest's ${version} is not the HMAC of the string this script explains`);
  }
  return { header, versions, strings };
}

function codeBlock(text, language = '') {
  return '```' + language + '\n' + text + '\n```';
}

function request(headers, body) {
  const lines = [`POST ${PATH} HTTP/1.1`, `Host: ${DESTINATION}.example:8000`, ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`)];
  return codeBlock(`${lines.join('\n')}\n\n${body}`, 'http');
}

function shown(text) {
  return text.replaceAll('\n', '\\n');
}

/** The examples section, as Markdown. */
export function renderExamples() {
  const peerKey = decodeKey(PEER_KEY);
  const signingKey = deriveKey(peerKey, SIGNING_INFO);
  const timestamp = new Date(NOW * 1000).toISOString();

  const token = fernetEncrypt(peerKey, 'Hello, Bob!', { now: NOW, iv: IV });
  const wire = encodeWireMessage(token);
  const body = JSON.stringify({ message: wire, sender: 'alice', receiver: 'bob', id: MESSAGE_ID, timestamp });
  const message = sign(signingKey, body, NOW);

  const editWire = encodeWireMessage(fernetEncrypt(peerKey, 'Hello, Bob! (edited)', { now: NOW + 60, iv: IV }));
  const editBody = JSON.stringify({ op: 'edit', ref: MESSAGE_ID, message: editWire, sender: 'alice', receiver: 'bob', id: EDIT_ID, timestamp: new Date((NOW + 60) * 1000).toISOString() });
  const edit = sign(signingKey, editBody, NOW + 60);

  const deleteBody = JSON.stringify({ op: 'delete', ref: MESSAGE_ID, sender: 'alice', receiver: 'bob', id: DELETE_ID, timestamp: new Date((NOW + 120) * 1000).toISOString() });
  const deletion = sign(signingKey, deleteBody, NOW + 120);

  const headers = (signed, id) => ({
    'Content-Type': 'application/json',
    'X-RealChat-Origin': ORIGIN,
    'X-RealChat-Signature': signed.header,
    'Idempotency-Key': id,
  });
  const signatureLines = (signed) =>
    Object.keys(signed.versions)
      .filter((version) => version !== 't')
      .map((version) => `- \`${version}\` signs \`${shown(signed.strings[version])}\` and is \`${signed.versions[version]}\``)
      .join('\n');

  return [
    BEGIN,
    '',
    '### Inputs',
    '',
    '| what | value |',
    '|---|---|',
    `| peer key (shared by \`${ORIGIN}\` and \`${DESTINATION}\`) | \`${PEER_KEY}\` (bytes 0 to 31) |`,
    `| sender's \`SERVER_NAME\` (origin) | \`${ORIGIN}\` |`,
    `| receiver's \`SERVER_NAME\` (destination) | \`${DESTINATION}\` |`,
    `| time | ${NOW} (${timestamp}) |`,
    `| Fernet IV | \`${IV.toString('hex')}\` (random in real use) |`,
    '| message | `Hello, Bob!` from `alice` to `bob` |',
    '',
    '### Keys',
    '',
    `- Fernet signing key (first 16 bytes of the peer key): \`${peerKey.subarray(0, 16).toString('hex')}\``,
    `- Fernet encryption key (last 16 bytes): \`${peerKey.subarray(16).toString('hex')}\``,
    `- request-signing key, HKDF-SHA256(peer key, salt empty, info \`${SIGNING_INFO}\`, 32 bytes): \`${signingKey.toString('hex')}\``,
    '',
    '### A new message',
    '',
    'The Fernet token of `Hello, Bob!`:',
    '',
    codeBlock(token),
    '',
    'The `message` field: that token, base64url-encoded once more, with padding:',
    '',
    codeBlock(wire),
    '',
    `The body, exactly these ${Buffer.byteLength(body)} bytes (no spaces, no newline at the end); its SHA-256 is \`${sha256Hex(body)}\`:`,
    '',
    codeBlock(body, 'json'),
    '',
    'The signatures (`\\n` is one newline byte, 0x0a):',
    '',
    signatureLines(message),
    '',
    'The request:',
    '',
    request(headers(message, MESSAGE_ID), body),
    '',
    `\`${DESTINATION}\` answers \`200 {"message":"Hello, Bob!"}\`, and stores the message for \`bob\` from \`alice@${ORIGIN}\`.`,
    '',
    '### An edit of that message, a minute later',
    '',
    `The new text \`Hello, Bob! (edited)\`, in a Fernet token made at time ${NOW + 60} with the same IV as above, and signed at that time:`,
    '',
    request(headers(edit, EDIT_ID), editBody),
    '',
    signatureLines(edit),
    '',
    'Answer: `200 {"message":"Hello, Bob! (edited)"}`.',
    '',
    '### Its delete, a minute after that',
    '',
    request(headers(deletion, DELETE_ID), deleteBody),
    '',
    signatureLines(deletion),
    '',
    'Answer: `200 {"message":""}`.',
    '',
    '### The same message to a compat peer (the original backend)',
    '',
    'No signature, no origin, no id: the original reads JSON, and wants a token of our account on it.',
    '',
    request(
      { 'Content-Type': 'application/json', Authorization: 'Token <our account\'s token on the original>' },
      JSON.stringify({ message: wire, sender: 'alice', receiver: 'bob' }),
    ),
    '',
    'What the original sends us (Python `requests` with `data=`, so a form):',
    '',
    request(
      { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: 'Token <its own user\'s token, ignored>' },
      new URLSearchParams({ message: wire, sender: 'alice', receiver: 'bob' }).toString(),
    ),
    '',
    END,
  ].join('\n');
}

/** The document with its examples section replaced by `examples`. */
export function withExamples(document, examples) {
  const start = document.indexOf(BEGIN);
  const end = document.indexOf(END);
  if (start < 0 || end < start) throw new Error('docs/federation.md has no worked-examples markers');
  return document.slice(0, start) + examples + document.slice(end + END.length);
}

if (process.argv[1] && new URL(`file://${process.argv[1]}`).href === import.meta.url) {
  const examples = renderExamples();
  if (process.argv.includes('--write')) writeFileSync(DOCUMENT, withExamples(readFileSync(DOCUMENT, 'utf8'), examples));
  else console.log(examples);
}
