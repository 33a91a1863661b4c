/**
 * What a database gives the caching layer (cached.ts): the Store's methods
 * as plain operations, and what is genuinely its own (its transaction, the
 * way an operation enters it, and how it learns that administration's tables
 * changed). Caching, invalidation and timing of the operations are the
 * layer's, the same for every backend.
 */
import type { Declaration } from "./methods.js";
import type { Store } from "./types.js";

export type Awaitable<T> = T | Promise<T>;

/** A concern of the Store (TenantStore, GrantStore…) as a backend answers it: synchronously or not. */
export type Plain<S> = {
  [K in keyof S]: S[K] extends (...args: infer A) => Promise<infer R> ? (...args: A) => Awaitable<R> : never;
};

/** A concern of the Store answered synchronously (SQLite's operations). */
export type Synchronous<S> = {
  [K in keyof S]: S[K] extends (...args: infer A) => Promise<infer R> ? (...args: A) => R : never;
};

/** Every Store method but transaction and close, as one backend's plain operation. */
export type Operations = Plain<Omit<Store, "transaction" | "close" | "writability">>;

/**
 * The change epoch of administration's tables (organizations, projects,
 * signing keys, clients, users, roles, permissions): what is kept in memory
 * of them is current while it has not moved.
 */
export interface ChangeFeed {
  /**
   * Read at every read answered from memory: cheap, and synchronous so that
   * none of them waits. It moves on a change by any process; a backend that
   * cannot tell at the moment answers a value never seen before.
   */
  epoch(): number;
  /**
   * This process is about to change administration's tables; the answer is
   * called once the write has been made (or has failed). Within a
   * transaction, a backend whose epoch others would see before the commit
   * marks the transaction now and publishes the change when it ends.
   */
  changing(): () => void;
}

/** Told by a backend of what only it sees. */
export interface BackendEvents {
  /** Seconds a transaction or a commit held the database (the layer times the operations). */
  observe(operation: string, seconds: number): void;
  /** Writes that others may have read were rolled back: nothing read since they were made may be kept. */
  rolledBack(): void;
}

export interface Backend {
  readonly ops: Operations;
  /**
   * How calls of one method enter the database: wraps `run` once, when the
   * store is built, so that a call costs no more than the wrapper.
   */
  enter(declaration: Declaration<unknown[]>, run: (args: unknown[]) => unknown): (args: unknown[]) => unknown;
  /**
   * Runs `fn` atomically, or within the caller's transaction when called
   * from one (through any store of this backend); rejects when it did not
   * commit.
   */
  transaction<T>(fn: () => Promise<T>): Promise<T>;
  /** Whether the caller runs within a transaction. */
  inTransaction(): boolean;
  /**
   * Whether reads within a transaction may be answered from memory: true
   * when a transaction's own changes move the epoch it reads (and a rollback
   * is told through rolledBack).
   */
  readonly cacheInTransaction: boolean;
  /**
   * Whether a grant's revocation (and deletion, and a client grant's
   * extension) moves the epoch with the write itself, so that grants may be
   * kept in memory (methods.ts, `revocable`): true where triggers do it in
   * the same transaction (SQLite); false where the epoch is learned later
   * (PostgreSQL's notifications reach other replicas after the commit).
   */
  readonly revocationsMoveEpoch: boolean;
  readonly changes: ChangeFeed;
  /**
   * A write that changes nothing and grows nothing, committed as any
   * transaction is: whether the database can be written again after a
   * storage fault (writability.ts).
   */
  probeWrite(): Promise<void>;
  close(): Promise<void>;
}
