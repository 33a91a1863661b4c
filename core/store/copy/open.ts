/** A database named as IAM_DB names one (a SQLite path, or a postgres:// URL), as the source or the target of a copy. */
import { displayDb, isPostgresUrl } from "../../server/config.js";
import { postgresSnapshot } from "./postgres-source.js";
import { postgresTarget } from "./postgres-target.js";
import type { Snapshot } from "./snapshot.js";
import { sqliteSnapshot } from "./sqlite-source.js";
import { sqliteTarget } from "./sqlite-target.js";
import type { Target } from "./target.js";

export function openSnapshot(db: string): Promise<Snapshot> {
  return isPostgresUrl(db) ? postgresSnapshot(db) : Promise.resolve(sqliteSnapshot(db));
}

export function openTarget(db: string): Promise<Target> {
  return isPostgresUrl(db) ? postgresTarget(db, displayDb(db)) : Promise.resolve(sqliteTarget(db));
}

/** Each table's row count, read now (in a snapshot of its own). */
export async function countRows(db: string): Promise<Map<string, number>> {
  const snapshot = await openSnapshot(db);
  try {
    const counts = new Map<string, number>();
    for (const table of snapshot.tables) {
      let n = 0;
      for await (const _ of snapshot.rows(table)) n++;
      counts.set(table.name, n);
    }
    return counts;
  } finally {
    await snapshot.close();
  }
}
