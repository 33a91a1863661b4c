import { AsyncLocalStorage } from "node:async_hooks";
import type pg from "pg";
import type { BackendEvents, ChangeFeed } from "../backend.js";
import type { AuditEventInput } from "../types.js";
import { checkout, commit, type Queryable } from "./connection.js";
import { isStorageFault } from "../faults.js";
import type { ChangeListener } from "./listener.js";
import { auditAppender } from "./audit.js";
import { statements, type Sql } from "./sql.js";

/** The transaction an operation runs in: its connection, and whether it changed administration's tables. */
interface Tx {
  client: pg.PoolClient;
  changed: boolean;
  /** Set once it has committed or rolled back. */
  ended: boolean;
  /** A transaction's audit events, written just before its COMMIT; none on a connection borrowed with `on`. */
  events?: AuditEventInput[];
}

/**
 * Transactions, one pooled connection each, followed through the caller's
 * async flow: a statement of the flow goes to its transaction's connection,
 * any other to the pool. A change to administration's tables made in a
 * transaction is announced to this process when it ends, not before: until
 * it commits, other callers still read (and may keep) what was there.
 */
export function transactions(pool: pg.Pool, changes: ChangeListener, events: BackendEvents) {
  const flow = new AsyncLocalStorage<Tx>();
  const db = (): Queryable => {
    const tx = flow.getStore();
    if (tx?.ended) throw new Error("a store call outlived its transaction");
    return tx?.client ?? pool;
  };
  const inTransaction = () => flow.getStore() !== undefined;

  const transaction = async <T>(fn: () => Promise<T>): Promise<T> => {
    const joined = flow.getStore();
    if (joined !== undefined && !joined.ended) return fn();
    const started = performance.now();
    const held = await checkout(pool);
    const tx: Tx = { client: held.client, changed: false, ended: false, events: [] };
    let broken: Error | undefined;
    try {
      await tx.client.query("BEGIN");
      const result = await flow.run(tx, fn);
      // Last, so that each chain's lock is held from here to the COMMIT only.
      if (tx.events!.length > 0) await flow.run(tx, () => writeEvents(tx.events!));
      // Ended before COMMIT is sent: work the transaction started and left
      // running must not slip onto the connection behind it (and run outside it).
      tx.ended = true;
      await commit(tx.client);
      return result;
    } catch (err) {
      tx.ended = true;
      await tx.client.query("ROLLBACK").catch((rollbackError: Error) => (broken = rollbackError));
      // A connection to a server that went read-only (a demoted primary, a
      // standby behind a moved address) or is failing is not kept: the next
      // transaction connects afresh, to wherever the address leads now.
      if (isStorageFault(err)) broken ??= err as Error;
      throw err;
    } finally {
      tx.ended = true;
      held.release(broken);
      if (tx.changed) changes.bump();
      events.observe("transaction", (performance.now() - started) / 1000);
    }
  };

  const sql: Sql = {
    ...statements(db),
    atomic: transaction,
    inTransaction,
    on: (client, fn) => flow.run({ client, changed: false, ended: false }, fn),
  };
  /** Writes audit events in the current transaction. */
  const writeEvents = auditAppender(sql);
  // Outside a transaction, the write has committed (or failed) when it answers.
  const bump = () => changes.bump();
  const nothing = () => {};
  const feed: ChangeFeed = {
    epoch: () => changes.epoch,
    changing: () => {
      const tx = flow.getStore();
      if (tx === undefined) return bump;
      tx.changed = true;
      return nothing;
    },
  };
  /** Keeps an audit event for the current transaction's commit; false outside one. */
  const deferEvent = (event: AuditEventInput): boolean => {
    const tx = flow.getStore();
    if (tx?.events === undefined || tx.ended) return false;
    tx.events.push(event);
    return true;
  };
  return { sql, transaction, inTransaction, changes: feed, deferEvent };
}
