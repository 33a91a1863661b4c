/** What every SQLite operation file shares: how records and values cross to SQLite and back. */
import Database from "better-sqlite3";
import { rowMappers, type Row } from "../rows.js";
import type { KeySealer } from "../sealing.js";
import { AlreadyExists, NotFound } from "../types.js";

export type { Row };

/** Lists are stored as JSON text. */
export const json = (value: unknown) => JSON.stringify(value);

/** The records from SQLite's rows: lists as JSON text, booleans as 0 and 1. */
export function sqliteMappers(sealer: KeySealer) {
  return rowMappers(
    { list: (text) => (text === null ? [] : (JSON.parse(text as string) as string[])), flag: (value) => value === 1 },
    sealer,
  );
}

export type Mappers = ReturnType<typeof sqliteMappers>;

export const maybe = <T>(row: unknown, map: (r: Row) => T): T | undefined =>
  row === undefined ? undefined : map(row as Row);

/**
 * Several statements that must land together: a transaction, or a savepoint
 * within the caller's. What better-sqlite3's db.transaction(fn)() does, with
 * its statements prepared once per connection: that call builds four
 * wrapper functions each time, a cost every write paid.
 */
export function atomically(db: Database.Database): <T>(fn: () => T) => T {
  let control = controls.get(db);
  if (control === undefined) {
    const s = (sql: string) => db.prepare(sql);
    control = {
      begin: s("BEGIN"),
      commit: s("COMMIT"),
      rollback: s("ROLLBACK"),
      savepoint: s("SAVEPOINT atomically"),
      release: s("RELEASE atomically"),
      rollbackTo: s("ROLLBACK TO atomically"),
    };
    controls.set(db, control);
  }
  const { begin, commit, rollback, savepoint, release, rollbackTo } = control;
  return (fn) => {
    const nested = db.inTransaction;
    (nested ? savepoint : begin).run();
    try {
      const result = fn();
      (nested ? release : commit).run();
      return result;
    } catch (err) {
      // A failed COMMIT may have ended the transaction already.
      if (db.inTransaction) {
        if (nested) (rollbackTo.run(), release.run());
        else rollback.run();
      }
      throw err;
    }
  };
}

const controls = new WeakMap<Database.Database, Record<"begin" | "commit" | "rollback" | "savepoint" | "release" | "rollbackTo", Database.Statement>>();

function uniqueViolation(err: unknown): boolean {
  return err instanceof Database.SqliteError && /CONSTRAINT_(PRIMARYKEY|UNIQUE)/.test(err.code);
}

/** Runs an INSERT (or an UPDATE of a unique column); a duplicate is AlreadyExists, named `what`. */
export function insert(what: string, run: () => void): void {
  try {
    run();
  } catch (err) {
    if (uniqueViolation(err)) throw new AlreadyExists(what);
    throw err;
  }
}

/**
 * An INSERT of a row that belongs to a client (a foreign key, its deletion
 * cascading): a duplicate is AlreadyExists; a client deleted meanwhile is
 * NotFound, not a failure of the database.
 */
export function insertForClient(what: string, ref: { clientId: string }, run: () => void): void {
  try {
    insert(what, run);
  } catch (err) {
    if (err instanceof Database.SqliteError && err.code === "SQLITE_CONSTRAINT_FOREIGNKEY") throw new NotFound(`client ${ref.clientId}`);
    throw err;
  }
}
