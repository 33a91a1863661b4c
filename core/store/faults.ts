/**
 * Storage faults: the database cannot take a write (or, for PostgreSQL, be
 * reached) for a reason outside the request, which passes when the disk,
 * the file or the server does. A request that meets one failed without a
 * trace (its transaction rolled back) and may be sent again as it was, so
 * it is answered "temporarily unavailable, try again later" (HTTP 503 with
 * Retry-After, gRPC UNAVAILABLE), never as a server error. What the request
 * itself got wrong (a constraint, a bug) is no fault of storage and stays
 * what it is.
 */

/** Seconds a caller refused for a storage fault is told to wait (Retry-After): a few probe writes' time. */
export const STORAGE_RETRY_AFTER_SECONDS = 5;

/** What a store call that met a storage fault throws; the error the database gave is its `cause`. */
export class StorageUnavailable extends Error {
  /** The database's own code for the fault (SQLITE_FULL, 25006, ECONNREFUSED…): safe to log, names nothing stored. */
  readonly reason: string;

  constructor(cause: unknown) {
    super("the database cannot be written now", { cause });
    this.name = "StorageUnavailable";
    this.reason = codeOf(cause) ?? messageOf(cause) ?? "unknown";
  }
}

/**
 * SQLite's result codes that are storage faults (better-sqlite3 reports the
 * extended code, SQLITE_IOERR_WRITE and the like, so these are prefixes):
 * - SQLITE_FULL: the disk (or the file's size limit) is full.
 * - SQLITE_READONLY*: the file, its directory or the file system became read-only, or the file was moved.
 * - SQLITE_IOERR*: the operating system failed a read, a write or an fsync.
 * - SQLITE_CANTOPEN*: the WAL, its index or a temporary file cannot be opened.
 * - SQLITE_BUSY*: another process held the write lock past the busy timeout
 *   (transactions.ts, 5 s). That is no longer contention between requests,
 *   which settles within a group commit, but a writer that stalls everyone
 *   (an operator's open transaction, a hung process); every writer of the
 *   file is blocked alike and a later attempt is the right answer.
 * Not faults: SQLITE_CONSTRAINT (the request's), SQLITE_LOCKED, SQLITE_MISUSE,
 * SQLITE_ERROR (bugs), SQLITE_CORRUPT (needs a person, not a retry).
 */
const SQLITE_FAULTS = ["SQLITE_FULL", "SQLITE_READONLY", "SQLITE_IOERR", "SQLITE_CANTOPEN", "SQLITE_BUSY"];

/**
 * PostgreSQL's SQLSTATEs that are storage faults (Appendix A, "PostgreSQL
 * Error Codes"): class 08, connection exception; class 53, insufficient
 * resources (53100 disk_full, 53300 too_many_connections…); 57P01
 * admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now (starting,
 * or in recovery); 25006 read_only_sql_transaction (a standby, or
 * default_transaction_read_only); 58030 io_error. Not faults: class 23
 * (integrity constraints), 40 (serialization, deadlock), 42 (syntax), 55P03
 * (a row lock held past lock_timeout: one row's contention, not the database's).
 */
const POSTGRES_FAULT_CLASSES = ["08", "53"];
const POSTGRES_FAULTS = new Set(["57P01", "57P02", "57P03", "25006", "58030"]);

/** The network failing under a connection (Node's system error codes). */
const NETWORK_FAULTS = new Set(["ECONNREFUSED", "ECONNRESET", "ECONNABORTED", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN"]);

/** node-postgres's own errors for a connection lost or never made, which carry no code. */
const PG_CONNECTION_LOST = new Set([
  "Connection terminated unexpectedly",
  "Connection terminated due to connection timeout",
  "timeout exceeded when trying to connect",
  "Client has encountered a connection error and is not queryable",
  "Query read timeout",
  "timeout expired",
]);

/** Whether `err` (or the error it was caused by) is a storage fault. */
export function isStorageFault(err: unknown): boolean {
  if (err instanceof StorageUnavailable) return true;
  for (let e = err, depth = 0; e instanceof Error && depth < 3; e = e.cause, depth++) {
    const code = codeOf(e);
    if (code !== undefined) {
      if (code.startsWith("SQLITE_")) return SQLITE_FAULTS.some((fault) => code.startsWith(fault));
      if (NETWORK_FAULTS.has(code)) return true;
      if (/^[0-9A-Z]{5}$/.test(code)) return POSTGRES_FAULT_CLASSES.includes(code.slice(0, 2)) || POSTGRES_FAULTS.has(code);
    }
    if (PG_CONNECTION_LOST.has(e.message)) return true;
  }
  return false;
}

function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

function messageOf(err: unknown): string | undefined {
  return err instanceof Error ? err.message : undefined;
}
