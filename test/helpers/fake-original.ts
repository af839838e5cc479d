// A local stand-in for the original Django backend's /accounts/receive-message/, as its code
// behaves: DRF token auth, a JSON or form body, `Fernet(key).decrypt(urlsafe_b64decode(message))`
// with no time limit, both names required to exist there, and its answers
// (200 {"message": text}, 400 {"error": "... does not exist"}).
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeWireMessage, fernetDecrypt } from '../../src/crypto/fernet.js';
import { startBackends, type Backend } from './backends.js';
import type { DatabaseKind } from './databases.js';
import { registerUser, type RegisteredUser } from './http.js';

export interface OriginalDelivery {
  authorization: string | undefined;
  contentType: string | undefined;
  headers: IncomingMessage['headers'];
  body: Record<string, string>;
  text: string;
}

export interface FakeOriginal {
  url: string;
  received: OriginalDelivery[];
  close(): Promise<void>;
}

export async function startFakeOriginal(options: { key: string; token: string; users: string[] }): Promise<FakeOriginal> {
  const received: OriginalDelivery[] = [];
  const users = new Set(options.users);
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const answer = (status: number, body: unknown) => {
        response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      };
      if (request.method !== 'POST' || request.url !== '/accounts/receive-message/') return answer(404, { detail: 'Not found.' });
      if (request.headers.authorization !== `Token ${options.token}`) return answer(401, { detail: 'Invalid token.' });
      const raw = Buffer.concat(chunks).toString('utf8');
      const contentType = request.headers['content-type'];
      const body = (contentType?.startsWith('application/json') ? JSON.parse(raw) : Object.fromEntries(new URLSearchParams(raw))) as Record<string, string>;
      if (!users.has(body.sender ?? '')) return answer(400, { error: 'Sender does not exist' });
      if (!users.has(body.receiver ?? '')) return answer(400, { error: 'Receiver does not exist' });
      let text: string;
      try {
        text = fernetDecrypt(options.key, decodeWireMessage(body.message ?? ''), { now: Math.floor(Date.now() / 1000) }).toString('utf8');
      } catch {
        return answer(500, { detail: 'Server error' });
      }
      received.push({ authorization: request.headers.authorization, contentType, headers: request.headers, body, text });
      answer(200, { message: text });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: () => new Promise((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  };
}

/**
 * Backend `a` set up as the original's users do: its one peer is the original backend
 * (PEER_NAME, PEER_COMPAT, PEER_TOKEN), keyed by the shared ENCRYPTION_KEY; alice is registered.
 */
export async function startWithOriginalPeer(database: DatabaseKind, key: string): Promise<{ original: FakeOriginal; a: Backend; alice: RegisteredUser }> {
  const original = await startFakeOriginal({ key, token: 'drf-token-of-our-account', users: ['alice', 'bob'] });
  const [a] = await startBackends(database, ['a'], {
    env: { PEERS: '', PEER_NAME: 'orig', PEER_URL: original.url, PEER_COMPAT: 'true', PEER_TOKEN: 'drf-token-of-our-account', ENCRYPTION_KEY: key },
  });
  return { original, a: a!, alice: await registerUser(a!.url, 'alice') };
}
