import { AsyncLocalStorage } from "node:async_hooks";
import Database from "better-sqlite3";
import type { Backend, BackendEvents } from "../backend.js";
import type { AuditEventInput, AuditEventRecord } from "../types.js";

/** How long a transaction waits for another process's write to end before it fails with SQLITE_BUSY. */
export const BUSY_TIMEOUT_MS = 5000;

/**
 * BEGIN IMMEDIATE (the write lock), waiting for another process that holds
 * it without blocking this one: SQLite's own busy handler sleeps on the
 * thread, which would stop every request of this process, so the lock is
 * tried without it and tried again on the next turns of the event loop.
 */
async function beginImmediate(db: Database.Database): Promise<void> {
  const deadline = performance.now() + BUSY_TIMEOUT_MS;
  const { noWait, wait, begin } = lockStatements(db);
  for (let attempt = 0; ; attempt++) {
    noWait.get();
    try {
      begin.run();
      return;
    } catch (err) {
      if (!(err instanceof Database.SqliteError && err.code === "SQLITE_BUSY") || performance.now() > deadline) throw err;
    } finally {
      wait.get();
    }
    // A few quick turns first (another process's group commits within one), then every millisecond.
    await new Promise((resolve) => (attempt < 4 ? setImmediate(resolve) : setTimeout(resolve, 1)));
  }
}

/** The statements of beginImmediate, prepared once per connection: under contention it runs them every turn. */
const lockStatements = (() => {
  const prepared = new WeakMap<Database.Database, Record<"noWait" | "wait" | "begin", Database.Statement>>();
  return (db: Database.Database) => {
    let statements = prepared.get(db);
    if (statements === undefined) {
      statements = {
        noWait: db.prepare("PRAGMA busy_timeout = 0"),
        wait: db.prepare(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`),
        begin: db.prepare("BEGIN IMMEDIATE"),
      };
      prepared.set(db, statements);
    }
    return statements;
  };
})();

/**
 * How operations enter the connection, and its transactions. A transaction
 * holds the connection: calls from outside it wait until it ends, so that no
 * other caller's write can land inside it (and be rolled back with it).
 * Calls made from within the transaction's own async flow, even through the
 * root store (a key loaded on first use, say), join it instead of waiting on
 * themselves. A write outside any transaction joins the commit group like a
 * transaction of its own: it returns once it is on disk.
 */
export function groupCommit(
  db: Database.Database,
  events: BackendEvents,
  /** Appends audit events in the open transaction (audit.ts, auditAppender). */
  appendEvents: (events: readonly AuditEventInput[]) => AuditEventRecord[],
): Omit<Backend, "ops" | "changes" | "cacheInTransaction" | "revocationsMoveEpoch" | "probeWrite"> {
  let current: Promise<void> | undefined;
  const flow = new AsyncLocalStorage<Promise<void>>();
  const joined = () => current !== undefined && flow.getStore() === current;
  const mustWait = () => current !== undefined && flow.getStore() !== current;
  const afterRunning = async (run: (args: unknown[]) => unknown, args: unknown[]) => {
    while (mustWait()) await current;
    return run(args);
  };

  /**
   * Group commit. Transactions that end close together share one COMMIT, so
   * one fsync (with synchronous=FULL) makes a whole group durable instead of
   * one each. A transaction runs as a SAVEPOINT inside the open group (BEGIN
   * IMMEDIATE) and is rolled back alone if it fails; its caller is answered
   * only once the group's COMMIT has returned, so nothing is acknowledged
   * before it is on disk. The group commits on the next turn of the event
   * loop (setImmediate), after the transactions of the current one. A COMMIT
   * that fails rolls the whole group back, and every transaction in it fails.
   * Reads outside transactions may see a released, not yet committed
   * transaction of the group; if that COMMIT fails, its writer is told so.
   *
   * Audit events are batched in the group commit too: a transaction's events
   * are kept aside while it runs, join the group's when it is released (and
   * are dropped with it if it rolls back), and are written just before the
   * COMMIT, each chain's head read once for them all. They are in the
   * group's transaction, so they land if and only if its changes do.
   */
  let group:
    | {
        committed: Promise<void>;
        resolve: () => void;
        reject: (err: unknown) => void;
        events: AuditEventInput[];
        /** The error with which SQLite rolled the whole group back itself, if it did. */
        lost?: unknown;
      }
    | undefined;
  /** The events of the transaction running now, until it is released into the group. */
  let txEvents: AuditEventInput[] = [];
  const commitGroup = async () => {
    while (current !== undefined) await current;
    const closing = group;
    if (closing === undefined) return;
    group = undefined;
    const started = performance.now();
    const queued = appends.splice(0);
    try {
      if (closing.lost !== undefined) throw closing.lost;
      const stored = writeEvents(closing.events, queued);
      db.exec("COMMIT");
      closing.resolve();
      queued.forEach((item, i) => item.resolve(stored[i]!));
    } catch (err) {
      if (db.inTransaction) db.exec("ROLLBACK");
      events.rolledBack();
      closing.reject(err);
      for (const item of queued) item.reject(err);
    } finally {
      events.observe("commit", (performance.now() - started) / 1000);
    }
  };
  const openGroup = async () => {
    await beginImmediate(db);
    let resolve!: () => void;
    let reject!: (err: unknown) => void;
    const committed = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
    // Nobody may be waiting yet; the rejection is delivered to those who are.
    committed.catch(() => {});
    group = { committed, resolve, reject, events: [] };
    setImmediate(() => void commitGroup());
    return group;
  };

  const transaction = async <T>(fn: () => T | Promise<T>): Promise<T> => {
    if (joined()) return fn();
    while (current !== undefined) await current;
    let release!: () => void;
    const tx = new Promise<void>((resolve) => (release = resolve));
    current = tx;
    const started = performance.now();
    let joinedGroup: NonNullable<typeof group>;
    try {
      // Inside the try: a BEGIN that fails (SQLITE_BUSY from another
      // process) must still release the store.
      joinedGroup = group ?? (await openGroup());
      // Outside the group's transaction, SAVEPOINT would begin one of its own and RELEASE commit it alone.
      if (joinedGroup.lost !== undefined) throw joinedGroup.lost;
      db.exec("SAVEPOINT tx");
      txEvents = [];
      let result: T;
      try {
        result = await flow.run(tx, fn);
        db.exec("RELEASE tx");
        for (const event of txEvents) joinedGroup.events.push(event);
      } catch (err) {
        if (db.inTransaction) {
          db.exec("ROLLBACK TO tx");
          db.exec("RELEASE tx");
        } else {
          // SQLite rolled the whole group back itself, as it may on a full disk
          // or an I/O error ("Response To Errors Within A Transaction"): none of
          // its transactions can commit now, and each is told why.
          joinedGroup.lost ??= err;
        }
        // Reads inside it may have remembered what was just rolled back.
        events.rolledBack();
        throw err;
      } finally {
        txEvents = [];
      }
      current = undefined;
      release();
      await joinedGroup.committed;
      return result;
    } finally {
      if (current === tx) {
        current = undefined;
        release();
      }
      events.observe("transaction", (performance.now() - started) / 1000);
    }
  };

  /**
   * Audit events appended outside any transaction (a token issued, a refusal)
   * are queued and written together, at the end of the turn: into the group
   * when one is open (its COMMIT makes them durable with the rest), else in a
   * transaction of their own that takes the write lock only for those writes
   * and its COMMIT. A group holds the lock from its first write to the end of
   * the turn, through all the turn's other work; appends written that way
   * would make another process wait a whole turn for each of them. Each
   * caller is answered once its event is on disk, with the event as stored.
   */
  let appends: { event: AuditEventInput; resolve: (value: AuditEventRecord) => void; reject: (err: unknown) => void }[] = [];
  let flushScheduled = false;
  /** Writes a group's events, then the queued ones, in the open transaction; answers the queued ones as stored. */
  const writeEvents = (grouped: readonly AuditEventInput[], queued: readonly { event: AuditEventInput }[]): AuditEventRecord[] => {
    if (grouped.length + queued.length === 0) return [];
    const started = performance.now();
    try {
      return appendEvents([...grouped, ...queued.map((item) => item.event)]).slice(grouped.length);
    } finally {
      events.observe("appendAuditEvents", (performance.now() - started) / 1000);
    }
  };
  const flushAppends = async () => {
    flushScheduled = false;
    while (current !== undefined) await current;
    // A group opened meanwhile takes them at its commit.
    if (group !== undefined || appends.length === 0) return;
    let release!: () => void;
    const tx = new Promise<void>((resolve) => (release = resolve));
    current = tx;
    const started = performance.now();
    const queued = appends.splice(0);
    try {
      await beginImmediate(db);
      const stored = writeEvents([], queued);
      db.exec("COMMIT");
      queued.forEach((item, i) => item.resolve(stored[i]!));
    } catch (err) {
      if (db.inTransaction) db.exec("ROLLBACK");
      for (const item of queued) item.reject(err);
    } finally {
      current = undefined;
      release();
      events.observe("commit", (performance.now() - started) / 1000);
    }
  };
  const queueAppend = (event: AuditEventInput) =>
    new Promise<AuditEventRecord>((resolve, reject) => {
      appends.push({ event, resolve, reject });
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(() => void flushAppends());
      }
    });

  return {
    enter: (declaration, run) => {
      if (declaration.kind !== "write") return (args) => (mustWait() ? afterRunning(run, args) : run(args));
      if (declaration.changes === "audit event") {
        // Within the transaction: kept with it, written at its group's commit.
        return (args) => (joined() ? void txEvents.push(args[0] as AuditEventInput) : queueAppend(args[0] as AuditEventInput));
      }
      return (args) => (joined() ? run(args) : transaction(() => run(args)));
    },
    transaction,
    inTransaction: joined,
    async close() {
      while (current !== undefined) await current;
      await commitGroup();
      await flushAppends();
      if (db.open) db.close();
    },
  };
}
