/**
 * The Store over any backend, as the declarations (methods.ts) say. Reads
 * with a cache key (projects, clients, users and what they hold: what only
 * administration changes; and, on a backend whose epoch revocations move,
 * grants) are answered from memory while the backend's change epoch
 * stands; everything else reaches the database. The copy is dropped whole
 * when the epoch moves (a change by any process), when this process writes
 * administration's tables, and when a rollback undoes what may have been
 * read. Entries are frozen: callers share them.
 *
 * The epoch is read once per unit of work (a request, as `unitOfWork`
 * names it) outside transactions, and again after the unit writes: a
 * request that starts after a change was acknowledged reads the new epoch,
 * and the rest of a request pays nothing more to know that nothing moved.
 *
 * Every call's failure passes through the store's Writability: a storage
 * fault (faults.ts) leaves as StorageUnavailable and makes the store
 * unwritable until a probe write succeeds (writability.ts).
 */
import type { Backend, BackendEvents, ChangeFeed, Operations } from "./backend.js";
import { DECLARATIONS, STORE_METHODS, type Declaration, type StoreMethod } from "./methods.js";
import type { Store } from "./types.js";
import { Writability } from "./writability.js";

/** Entries a process keeps at most; past it the copy starts again empty. */
export const CACHE_LIMIT = 20_000;

type Observe = (operation: string, seconds: number) => void;
type Run = (args: unknown[]) => unknown;

/**
 * Builds the backend (handing it the events only it sees) and answers the
 * Store over it. `observe` is told the seconds of each operation that
 * reached the database, and of each transaction and commit. `unitOfWork`
 * answers an object that stands for the request being served (the same
 * object for the whole request), or undefined outside one.
 */
export function cachedStore(
  open: (events: BackendEvents) => Backend,
  observe: Observe = () => {},
  unitOfWork: () => object | undefined = () => undefined,
): Store {
  const memory = new Memory();
  const backend = open({ observe, rolledBack: () => memory.clear() });
  checkDeclarations(backend.ops);
  const { changes } = backend;
  const inTransaction = () => backend.inTransaction();
  const writability = new Writability(() => backend.probeWrite());
  const failed = (err: unknown) => {
    throw writability.failed(err);
  };

  const epochs = new WeakMap<object, number>();
  const currentEpoch = (): number => {
    const unit = inTransaction() ? undefined : unitOfWork();
    if (unit === undefined) return changes.epoch();
    let epoch = epochs.get(unit);
    if (epoch === undefined) {
      epoch = changes.epoch();
      epochs.set(unit, epoch);
    }
    return epoch;
  };
  /** After a write, the unit reads the epoch again: its own change may have moved it. */
  const wrote = () => {
    const unit = unitOfWork();
    if (unit !== undefined) epochs.delete(unit);
  };

  const remembered = (name: string, cacheKey: (...args: unknown[]) => string, run: Run, keepMissing: boolean): Run => {
    const skip = backend.cacheInTransaction ? () => false : inTransaction;
    return (args) => {
      if (skip()) return run(args);
      const epoch = currentEpoch();
      // A unit that began before memory moved on reads the database, and keeps nothing.
      if (!memory.at(epoch)) return run(args);
      const id = `${name}\u0000${cacheKey(...args)}`;
      if (memory.has(id)) return memory.get(id);
      const loaded = run(args);
      const keep = (value: unknown) => (value === undefined && !keepMissing ? value : memory.keep(id, value, epoch, changes));
      return loaded instanceof Promise ? loaded.then(keep) : keep(loaded);
    };
  };
  const changing =
    (run: Run): Run =>
    (args) => {
      const made = changes.changing();
      return followedBy(run, args, () => {
        memory.clear();
        made();
        wrote();
      });
    };
  const writing =
    (run: Run): Run =>
    (args) =>
      followedBy(run, args, wrote);

  /** What a call does beyond the operation, as its declaration says. */
  const declared = (name: StoreMethod, declaration: Declaration<unknown[]>, run: Run): Run => {
    if (declaration.kind === "write") return declaration.changes === "administration" ? changing(run) : writing(run);
    if (declaration.cacheKey === undefined) return run;
    if (declaration.revocable === true) {
      return backend.revocationsMoveEpoch ? remembered(name, declaration.cacheKey, run, false) : run;
    }
    return remembered(name, declaration.cacheKey, run, true);
  };

  const store = {} as Record<string, unknown>;
  for (const name of STORE_METHODS) {
    const declaration: Declaration<unknown[]> = DECLARATIONS[name];
    const run = timed(name, backend.ops[name] as (...args: unknown[]) => unknown, observe);
    // Built once per method: a call costs the wrapper, no allocation of its own.
    const entered = backend.enter(declaration, declared(name, declaration, run));
    store[name] = async (...args: unknown[]) => {
      try {
        return await entered(args);
      } catch (err) {
        return failed(err);
      }
    };
  }
  store.transaction = <T>(fn: (s: Store) => Promise<T>): Promise<T> => backend.transaction(() => fn(store as unknown as Store)).catch(failed);
  store.writability = writability;
  store.close = () => {
    writability.close();
    return backend.close();
  };
  Object.defineProperty(store, "cachedReads", { get: () => memory.size });
  return store as unknown as Store;
}

/** A backend's operations and the declarations name the same methods, or the store is not built. */
function checkDeclarations(ops: Operations): void {
  const declared = new Set<string>(STORE_METHODS);
  const undeclared = Object.keys(ops).filter((name) => !declared.has(name));
  const missing = STORE_METHODS.filter((name) => typeof ops[name] !== "function");
  if (undeclared.length > 0 || missing.length > 0) {
    throw new Error(
      `the store's declarations (core/store/methods.ts) and the backend disagree: ` +
        `undeclared ${JSON.stringify(undeclared)}, without an operation ${JSON.stringify(missing)}`,
    );
  }
}

/** `op` with the seconds it took (until its promise settled, if it answers one) told to `observe`. */
function timed(name: StoreMethod, op: (...args: unknown[]) => unknown, observe: Observe): Run {
  return (args) => {
    const started = performance.now();
    let result: unknown;
    try {
      result = op(...args);
    } catch (err) {
      observe(name, (performance.now() - started) / 1000);
      throw err;
    }
    if (result instanceof Promise) return timedUntilSettled(result, name, started, observe);
    observe(name, (performance.now() - started) / 1000);
    return result;
  };
}

async function timedUntilSettled(result: Promise<unknown>, name: StoreMethod, started: number, observe: Observe): Promise<unknown> {
  try {
    return await result;
  } finally {
    observe(name, (performance.now() - started) / 1000);
  }
}

/** `run(args)`, with `after()` called once it has answered or failed, synchronously or not. */
function followedBy(run: Run, args: unknown[], after: () => void): unknown {
  let result: unknown;
  try {
    result = run(args);
  } catch (err) {
    after();
    throw err;
  }
  if (result instanceof Promise) return settled(result, after);
  after();
  return result;
}

async function settled(result: Promise<unknown>, after: () => void): Promise<unknown> {
  try {
    return await result;
  } finally {
    after();
  }
}

/** What is kept of the remembered reads, and the epoch it was read at. */
class Memory {
  readonly #entries = new Map<string, unknown>();
  #epoch: number | undefined;

  get size(): number {
    return this.#entries.size;
  }

  /**
   * Whether memory may answer at `epoch`: a later epoch than the one kept
   * drops what was kept and moves on to it; an earlier one (a unit of work
   * that read its epoch before memory moved on) may not be answered from
   * memory. Epochs only grow.
   */
  at(epoch: number): boolean {
    if (this.#epoch === undefined || epoch > this.#epoch) {
      this.#entries.clear();
      this.#epoch = epoch;
    }
    return epoch === this.#epoch;
  }

  has(id: string): boolean {
    return this.#entries.has(id);
  }

  get(id: string): unknown {
    return this.#entries.get(id);
  }

  /** Freezes `value` and keeps it, unless the epoch moved while it was read. */
  keep(id: string, value: unknown, epoch: number, changes: ChangeFeed): unknown {
    deepFreeze(value);
    if (changes.epoch() === epoch) {
      if (this.#entries.size >= CACHE_LIMIT) this.#entries.clear();
      this.#entries.set(id, value);
    }
    return value;
  }

  clear(): void {
    this.#entries.clear();
  }
}

/** Entries are frozen: callers share them. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}
