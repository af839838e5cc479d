// A WebSocket client for tests: awaits frames and the close with deadlines instead of sleeps.
import WebSocket, { type ClientOptions } from 'ws';

export interface Closed {
  code: number;
  reason: string;
}

export interface TestSocket {
  ws: WebSocket;
  /** Resolves with the next frame matching the predicate (frames before it are skipped). */
  next(predicate?: (frame: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Frames received and not yet consumed by next(). */
  received: Array<Record<string, unknown>>;
  closed: Promise<Closed>;
  send(frame: unknown): void;
  /** Sends a ping frame and waits for the pong: every frame sent before it has been handled. */
  roundTrip(): Promise<void>;
  close(): Promise<void>;
}

export function wsUrl(baseUrl: string): string {
  return baseUrl.replace(/^http/, 'ws') + '/ws';
}

/** Opens a socket, authenticated by header when a token is given. */
export async function openSocket(baseUrl: string, token?: string, options: ClientOptions = {}): Promise<TestSocket> {
  const headers: Record<string, string> = token ? { authorization: `Token ${token}` } : {};
  const ws = new WebSocket(wsUrl(baseUrl), { headers, ...options });
  const received: Array<Record<string, unknown>> = [];
  const waiters: Array<() => void> = [];
  ws.on('message', (data) => {
    received.push(JSON.parse(data.toString()) as Record<string, unknown>);
    for (const wake of waiters.splice(0)) wake();
  });
  const closed = new Promise<Closed>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  closed.then(() => {
    for (const wake of waiters.splice(0)) wake();
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.on('error', () => undefined);
  let isClosed = false;
  void closed.then(() => (isClosed = true));

  const next: TestSocket['next'] = async (predicate = () => true, timeoutMs = 5000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = received.findIndex(predicate);
      if (index >= 0) return received.splice(0, index + 1).at(-1)!;
      if (isClosed) throw new Error(`socket closed before the expected frame; got ${JSON.stringify(received)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(received)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  };

  return {
    ws,
    next,
    received,
    closed,
    send: (frame) => ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame)),
    roundTrip: async () => {
      ws.send('{"type":"ping"}');
      await next((frame) => frame.type === 'pong');
    },
    close: async () => {
      if (ws.readyState !== WebSocket.CLOSED) {
        ws.terminate();
        await closed;
      }
    },
  };
}

/** Resolves with the close, or fails after the deadline. */
export async function closedWithin(socket: TestSocket, timeoutMs = 5000): Promise<Closed> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`socket still open after ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([socket.closed, timeout]).finally(() => clearTimeout(timer));
}
