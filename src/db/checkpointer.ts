// SQLite WAL checkpoints off the event loop. A commit that crosses the auto-checkpoint
// threshold copies the WAL back into the database file (and syncs it) before returning, which
// costs a send as much as its own writes. A worker thread with a connection of its own runs
// passive checkpoints instead; they run alongside the writes of the main connection. The main
// connection keeps a higher threshold of its own: under steady writes a passive checkpoint never
// quite catches up, so it is that connection's (by then small) checkpoint that lets the WAL start
// over from its beginning; it also bounds the WAL should the worker lag or die.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * Pages in the WAL past which the committing connection checkpoints by itself (32 MB of 2 KiB
 * pages). Its checkpoint syncs the database file on the event loop; at 4,000 pages that came
 * every 40 or so group commits, a tenth of the write path's time on the event loop.
 */
export const FALLBACK_CHECKPOINT_PAGES = 16_000;

const INTERVAL_MS = 25;

// Runs as a classic script (eval), so that it needs no file of its own next to the compiled code.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const SQLite = require(workerData.driver);
const connection = new SQLite(workerData.path, { fileMustExist: true });
connection.pragma('busy_timeout = 10000');
connection.pragma('synchronous = NORMAL');
const timer = setInterval(() => {
  try {
    connection.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // Busy or failing now: the next turn tries again, and the main connection's threshold bounds the WAL.
  }
}, workerData.intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  connection.close();
  parentPort.close();
});
`;

export interface Checkpointer {
  /** Stops the worker and closes its connection. */
  stop(): Promise<void>;
}

export function startCheckpointer(path: string): Checkpointer {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { path, driver: createRequire(import.meta.url).resolve('better-sqlite3'), intervalMs: INTERVAL_MS },
  });
  // It must not keep a process alive (CLI commands), and its failure must not take the server
  // down: the main connection's own threshold then takes over.
  worker.unref();
  worker.on('error', () => undefined);
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  return {
    stop: async () => {
      // Referenced again while it stops, or a process with nothing else to do would not wait for it.
      worker.ref();
      worker.postMessage('stop');
      await exited;
    },
  };
}
