import type Database from "better-sqlite3";
import type { ChangeFeed } from "../backend.js";

/**
 * The change epoch: triggers move it on every change to administration's
 * tables, by any connection or process (migration 3), so another process's
 * change is seen on the next read, for the cost of one indexed read, while
 * its token traffic leaves it alone. A connection sees its own open
 * transaction's changes in it; a rollback takes them back with the rest.
 */
const nothing = () => {};

export function changeEpoch(db: Database.Database): ChangeFeed {
  const epoch = db.prepare("SELECT n FROM change_epoch").pluck();
  return {
    epoch: () => epoch.get() as number,
    // The triggers move it with the write itself.
    changing: () => nothing,
  };
}
