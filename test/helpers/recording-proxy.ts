// An HTTP proxy on loopback in front of a backend, for federation tests: it counts the requests
// per path (how many requests a burst took), answers a path itself when told (404: a backend
// without the transactions path), drops connections before or after forwarding (a peer lost
// mid-request, or an answer lost after the backend applied the request), and holds requests a
// while before forwarding them (a slow peer).
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** `before`: the backend never sees the request; `after`: it applies it, and its answer is lost. */
export type DropMode = 'before' | 'after';

export class RecordingProxy {
  private readonly counts = new Map<string, number>();
  private readonly answers = new Map<string, number>();
  private readonly agent = new http.Agent({ keepAlive: true });
  private readonly server = http.createServer((request, response) => this.handle(request, response));
  private dropping: DropMode | undefined;
  private delayMs = 0;

  /**
   * `target` may be set later, once the backend's URL is known (from startBackends' `peers` hook,
   * which also points the sender at `url`); requests until then are answered 502.
   */
  constructor(public target?: string) {}

  /** Listens on loopback, on the port given or any free one. */
  async listen(port = 0): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Requests that arrived for this path (without the query), answered, forwarded or dropped. */
  count(path: string): number {
    return this.counts.get(path) ?? 0;
  }

  /** Every path that was asked for, with its count. */
  paths(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }

  resetCounts(): void {
    this.counts.clear();
  }

  /** Answers this path with the status itself, without forwarding; undefined forwards it again. */
  answer(path: string, status: number | undefined): void {
    if (status === undefined) this.answers.delete(path);
    else this.answers.set(path, status);
  }

  /** Drops every connection that brings a request, before or after forwarding it; undefined stops. */
  drop(mode: DropMode | undefined): void {
    this.dropping = mode;
  }

  /** Holds each request `ms` before forwarding it; 0 forwards at once. */
  delay(ms: number): void {
    this.delayMs = ms;
  }

  async close(): Promise<void> {
    this.agent.destroy();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private handle(request: http.IncomingMessage, response: http.ServerResponse): void {
    const path = (request.url ?? '/').split('?')[0]!;
    this.counts.set(path, this.count(path) + 1);
    const dropping = this.dropping;
    if (dropping === 'before') return void request.socket.destroy();
    const status = this.answers.get(path);
    if (status !== undefined) return void request.resume().on('end', () => answerError(response, status, 'Answered by the test proxy.'));
    if (this.target === undefined) return void request.resume().on('end', () => answerError(response, 502, 'The test proxy has no target yet.'));
    if (this.delayMs > 0) setTimeout(() => this.forward(request, response, this.target!, dropping), this.delayMs);
    else this.forward(request, response, this.target, dropping);
  }

  private forward(request: http.IncomingMessage, response: http.ServerResponse, to: string, dropping: DropMode | undefined): void {
    const target = new URL(to);
    const upstream = http.request(
      new URL(request.url ?? '/', target),
      { method: request.method, headers: { ...request.headers, host: target.host }, agent: this.agent },
      (answer) => {
        if (dropping === 'after') {
          answer.resume();
          return void request.socket.destroy();
        }
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      },
    );
    upstream.on('error', () => (response.headersSent ? response.destroy() : answerError(response, 502, 'The backend is unreachable.')));
    request.pipe(upstream);
  }
}

function answerError(response: http.ServerResponse, status: number, detail: string): void {
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ detail, code: status === 404 ? 'not_found' : `http_${status}` }));
}
