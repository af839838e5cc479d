// docs/federation.md's worked examples: exactly what scripts/federation-examples.mjs prints, the
// request the federation client really sends (but for the token's random IV), and accepted by a
// backend whose clock reads the examples' time.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FederationClient, type FederatedMessage } from '../../src/federation/client.js';
import type { HttpPost } from '../../src/federation/http.js';
import { PeerDirectory } from '../../src/federation/peers.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { describeEachDatabase } from '../helpers/databases.js';
import { call, registerUser } from '../helpers/http.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DOCUMENT = readFileSync(`${ROOT}docs/federation.md`, 'utf8');
const BEGIN = '<!-- worked-examples:begin';
const END = '<!-- worked-examples:end -->';

interface ExampleRequest {
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** The examples section of the document, from its opening marker to its closing one. */
function examplesSection(): string {
  const start = DOCUMENT.indexOf(BEGIN);
  const end = DOCUMENT.indexOf(END);
  expect(start, 'docs/federation.md has its worked-examples markers').toBeGreaterThan(-1);
  return DOCUMENT.slice(start, end + END.length);
}

/** Every ```http block of the section, as a request; the header names in lower case. */
function exampleRequests(): ExampleRequest[] {
  return [...examplesSection().matchAll(/```http\n([\s\S]*?)\n```/g)].map(([, block]) => {
    const [head, body] = block!.split('\n\n') as [string, string];
    const [requestLine, ...headerLines] = head.split('\n');
    const headers = Object.fromEntries(headerLines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 2)]));
    return { path: requestLine!.split(' ')[1]!, headers, body };
  });
}

/** The examples' fixed inputs, read back from their table. */
function exampleInputs() {
  const section = examplesSection();
  const key = /\| peer key [^|]*\| `([^`]+)`/.exec(section)![1]!;
  const unixSeconds = Number(/\| time \| (\d+) /.exec(section)![1]);
  return { key, unixSeconds };
}

describe('the worked examples of docs/federation.md', () => {
  it('are exactly what npm run docs:examples prints', () => {
    const printed = execFileSync(process.execPath, [`${ROOT}scripts/federation-examples.mjs`], { encoding: 'utf8' });
    expect(examplesSection() + '\n').toBe(printed);
  });

  it('show the request the federation client sends, but for the random IV of its token', async () => {
    const { key, unixSeconds } = exampleInputs();
    const [example] = exampleRequests();
    const documented = JSON.parse(example!.body) as Record<string, string>;
    const sent: { url: URL; post: HttpPost }[] = [];
    const client = new FederationClient({
      serverName: example!.headers['x-realchat-origin']!,
      timeoutMs: 1000,
      clock: () => unixSeconds * 1000,
      http: async (url, post) => {
        sent.push({ url, post });
        return { status: 200, body: '{"message":"Hello, Bob!"}' };
      },
    });
    const [peer] = new PeerDirectory([{ name: 'b', url: 'http://b.example:8000', key, previousKeys: [], compat: false }]).all;
    const message: FederatedMessage = {
      id: documented.id!,
      sender: documented.sender!,
      receiver: documented.receiver!,
      text: 'Hello, Bob!',
      createdAt: Date.parse(documented.timestamp!),
    };

    expect(await client.deliver(peer!, message)).toEqual({ kind: 'delivered' });
    const [{ url, post }] = sent as [(typeof sent)[0]];
    const own = JSON.parse(post.body) as Record<string, string>;
    expect(url.pathname).toBe(example!.path);
    // The example with the client's token in place of its own is the client's body, byte for byte.
    expect(JSON.stringify({ ...documented, message: own.message })).toBe(post.body);
    const { host: _host, ...documentedHeaders } = example!.headers;
    expect(Object.keys(post.headers).filter((name) => name !== 'accept').sort()).toEqual(Object.keys(documentedHeaders).sort());
    expect(post.headers['x-realchat-origin']).toBe(documentedHeaders['x-realchat-origin']);
    expect(post.headers['idempotency-key']).toBe(documentedHeaders['idempotency-key']);
    expect(post.headers['x-realchat-signature']!.split(',').map((part) => part.split('=')[0])).toEqual(
      documentedHeaders['x-realchat-signature']!.split(',').map((part) => part.split('=')[0]),
    );
  });
});

describeEachDatabase('a backend at the time of the worked examples', (database) => {
  let b: TestApp;
  let now = 0;

  beforeAll(async () => {
    const { key, unixSeconds } = exampleInputs();
    now = unixSeconds * 1000;
    b = await startTestApp({
      database,
      clock: () => now,
      env: { SERVER_NAME: 'b', PEERS: JSON.stringify([{ name: 'a', url: 'http://127.0.0.1:9', key }]) },
    });
    await registerUser(b.url, 'bob');
  });
  afterAll(async () => {
    await b?.destroy();
  });

  it('accepts the message, its edit and its delete as documented', async () => {
    const [message, edit, deletion] = exampleRequests();
    const answers: unknown[] = [];
    for (const example of [message!, edit!, deletion!]) {
      now = Number(/t=(\d+)/.exec(example.headers['x-realchat-signature']!)![1]) * 1000;
      const { host: _host, ...headers } = example.headers;
      const response = await call(b.url, 'POST', example.path, undefined, { headers, raw: example.body });
      answers.push([response.status, response.body]);
    }
    const documentedAnswers = [...examplesSection().matchAll(/answers `200 (\{.*?\})`|Answer: `200 (\{.*?\})`/g)].map((match) => [200, JSON.parse(match[1] ?? match[2]!)]);
    expect(answers).toEqual(documentedAnswers);
    expect(answers).toEqual([
      [200, { message: 'Hello, Bob!' }],
      [200, { message: 'Hello, Bob! (edited)' }],
      [200, { message: '' }],
    ]);
  });
});
