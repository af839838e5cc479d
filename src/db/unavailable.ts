// Which errors mean the database (or another store a request needs) cannot be reached right now,
// rather than a fault in the request or in our code: those are answered 503 `unavailable`, so a
// client knows to try again later. The driver's own codes stay in this folder.

/** Node's codes for a connection that could not be made or was lost. */
const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE']);

/** PostgreSQL's: class 08 (connection exception) and the server shutting down, starting or full. */
const POSTGRES_UNAVAILABLE = /^(08...|57P0[1-3]|53300)$/;

/** SQLite's: another process holding the lock past busy_timeout, a full disk, a failing disk. */
const SQLITE_UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|FULL|IOERR|CANTOPEN)/;

/** pg's own messages for a pool that cannot connect or a connection that ended (they carry no code). */
const POSTGRES_CONNECTION_MESSAGES = /^(timeout exceeded when trying to connect|Connection terminated|Client has encountered a connection error|Client was closed)/;

export function isStoreUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (CONNECTION_CODES.has(code) || POSTGRES_UNAVAILABLE.test(code) || SQLITE_UNAVAILABLE.test(code))) return true;
  // ioredis, when Redis stays down past its retries for a command.
  if (error.name === 'MaxRetriesPerRequestError') return true;
  return POSTGRES_CONNECTION_MESSAGES.test(error.message);
}

/** PostgreSQL's for a database that is not there or refuses us: no such database, role or password. */
const POSTGRES_REFUSED = /^(3D000|28000|28P01)$/;

/**
 * Whether a failure at start (opening, migrating) means the configured database cannot be used,
 * as opposed to a fault of ours: the operator then hears which variable to look at.
 */
export function isDatabaseUnusable(error: unknown): boolean {
  if (isStoreUnavailable(error)) return true;
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  return (typeof code === 'string' && (POSTGRES_REFUSED.test(code) || code === 'SQLITE_NOTADB')) || /SSL/.test(error.message);
}
