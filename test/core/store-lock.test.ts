import { join } from "node:path";
import test from "ava";
import Database from "better-sqlite3";
import { StorageUnavailable } from "../../core/store/faults.js";
import { openSqliteStore } from "../../core/store/sqlite/store.js";
import { tempDir } from "../helpers.js";

// In a file of its own: waiting for the lock blocks this process for the
// store's busy_timeout (5 s), which would stall the tests around it.
test("a transaction that cannot begin (the database locked by another process) fails and leaves the store usable", async (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const path = join(dir, "iam.db");
  const store = openSqliteStore(path);
  t.teardown(() => store.close());
  const other = new Database(path, { timeout: 0 });
  other.exec("BEGIN IMMEDIATE");
  // The store waits busy_timeout (5 s) for the lock, then gives up.
  const err = await t.throwsAsync(store.transaction(async (s) => s.isEmpty()), { instanceOf: StorageUnavailable });
  t.is(err?.reason, "SQLITE_BUSY");
  other.exec("ROLLBACK");
  other.close();
  t.true(await store.isEmpty());
  t.true(await store.transaction(async (s) => s.isEmpty()));
});

