// The HTTP function federation posts with: node:http(s) over keep-alive connections, with one
// deadline for the whole exchange. fetch costs several times more CPU per request, which at
// thousands of deliveries a second is most of the sender's work.
import http from 'node:http';
import https from 'node:https';

export interface HttpPost {
  headers: Record<string, string>;
  body: string;
  /** The whole exchange, from connecting to the last byte of the answer. */
  timeoutMs: number;
}

export interface HttpAnswer {
  status: number;
  body: string;
}

/** Rejects with an error whose `code` says why (ECONNREFUSED, ETIMEDOUT, ...). */
export type HttpFunction = (url: URL, post: HttpPost) => Promise<HttpAnswer>;

export interface HttpClient {
  post: HttpFunction;
  close(): void;
}

// A peer answers a few bytes of JSON; more than this is not an answer we want to hold.
const MAX_ANSWER_BYTES = 64 * 1024;

export function keepAliveHttp(): HttpClient {
  const agents = {
    http: new http.Agent({ keepAlive: true, maxSockets: 512 }),
    https: new https.Agent({ keepAlive: true, maxSockets: 512 }),
  };
  const post: HttpFunction = (url, { headers, body, timeoutMs }) =>
    new Promise((resolve, reject) => {
      const secure = url.protocol === 'https:';
      const request = (secure ? https : http).request(url, {
        method: 'POST',
        agent: secure ? agents.https : agents.http,
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      });
      const deadline = setTimeout(() => request.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })), timeoutMs);
      request.on('error', (error) => {
        clearTimeout(deadline);
        reject(error);
      });
      request.on('response', (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_ANSWER_BYTES) request.destroy(Object.assign(new Error('answer too large'), { code: 'EANSWERTOOLARGE' }));
          else chunks.push(chunk);
        });
        response.on('end', () => {
          clearTimeout(deadline);
          resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
        });
        response.on('error', () => undefined);
      });
      request.end(body);
    });
  return {
    post,
    close: () => {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}
