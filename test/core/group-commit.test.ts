/**
 * Group commit (core/store/sqlite/store.ts): transactions that end together
 * share one COMMIT. What it must not change: nothing is acknowledged before
 * it is committed, a failing transaction takes only itself back, and a write
 * made outside a transaction is committed when it returns.
 */
import { join } from "node:path";
import test from "ava";
import Database from "better-sqlite3";
import { StorageUnavailable } from "../../core/store/faults.js";
import { openSqliteStore } from "../../core/store/sqlite/store.js";
import { tempDir } from "../helpers.js";

function open(t: import("ava").ExecutionContext) {
  const { dir, cleanup } = tempDir();
  const path = join(dir, "iam.db");
  const operations: string[] = [];
  const store = openSqliteStore(path, { onOperation: (operation) => operations.push(operation) });
  // Another connection, as another process would have: it sees only what is committed.
  const outside = () => {
    const db = new Database(path, { readonly: true });
    try {
      return (db.prepare("SELECT id FROM organizations ORDER BY id").all() as { id: string }[]).map((r) => r.id);
    } finally {
      db.close();
    }
  };
  t.teardown(async () => {
    await store.close();
    cleanup();
  });
  return { store, operations, outside };
}

const org = (id: string) => ({ id, name: id, createdAt: 0 });

test("concurrent transactions share commits, and each is committed when its caller hears back", async (t) => {
  const { store, operations, outside } = open(t);
  const ids = Array.from({ length: 20 }, (_, i) => `org-${String(i).padStart(2, "0")}`);
  await Promise.all(
    ids.map(async (id) => {
      await store.transaction(async (tx) => {
        await tx.createOrganization(org(id));
      });
      // Acknowledged: another connection must see it now.
      t.true(outside().includes(id), `${id} committed before its transaction returned`);
    }),
  );
  t.deepEqual(outside(), ids);
  const commits = operations.filter((o) => o === "commit").length;
  const transactions = operations.filter((o) => o === "transaction").length;
  t.is(transactions, 20);
  t.true(commits >= 1 && commits < 20, `${commits} commits for 20 transactions`);
});

test("a transaction that fails inside a group takes back only its own writes", async (t) => {
  const { store, outside } = open(t);
  const results = await Promise.allSettled([
    store.transaction(async (tx) => tx.createOrganization(org("kept-1"))),
    store.transaction(async (tx) => {
      await tx.createOrganization(org("rolled-back"));
      throw new Error("refused");
    }),
    store.transaction(async (tx) => tx.createOrganization(org("kept-2"))),
  ]);
  t.deepEqual(
    results.map((r) => r.status),
    ["fulfilled", "rejected", "fulfilled"],
  );
  t.deepEqual(outside(), ["kept-1", "kept-2"]);
  t.is(await store.getOrganization("rolled-back"), undefined);
});

test("a write outside a transaction is committed when it returns, even while a group is open", async (t) => {
  const { store, outside } = open(t);
  const grouped = store.transaction(async (tx) => tx.createOrganization(org("in-group")));
  await store.createOrganization(org("alone"));
  t.true(outside().includes("alone"));
  await grouped;
  t.deepEqual(outside(), ["alone", "in-group"]);
});

test("a duplicate refused inside a group is the caller's error, and the group still commits", async (t) => {
  const { store, outside } = open(t);
  await store.createOrganization(org("taken"));
  const results = await Promise.allSettled([
    store.createOrganization(org("taken")),
    store.createOrganization(org("fresh")),
  ]);
  t.is(results[0].status, "rejected");
  t.is(results[1].status, "fulfilled");
  t.deepEqual(outside(), ["fresh", "taken"]);
});

test("closing the store commits the open group first", async (t) => {
  const { store, outside } = open(t);
  const pending = store.transaction(async (tx) => tx.createOrganization(org("last")));
  await store.close();
  await pending;
  t.deepEqual(outside(), ["last"]);
});


/** A store on a file, and a connection of its own to the same file, as another process would have. */
function storeAndOtherProcess(t: import("ava").ExecutionContext) {
  const { dir, cleanup } = tempDir();
  const path = join(dir, "iam.db");
  const store = openSqliteStore(path);
  const other = new Database(path);
  t.teardown(async () => {
    other.close();
    await store.close();
    cleanup();
  });
  return { store, other };
}

test("a write waiting for another process's lock does not stop this process's event loop, and lands once the lock is free", async (t) => {
  const { store, other } = storeAndOtherProcess(t);
  await store.createOrganization(org("before"));
  other.exec("BEGIN IMMEDIATE");
  other.prepare("INSERT INTO organizations (id, name, created_at) VALUES ('theirs', 'theirs', 0)").run();

  let settled = false;
  const write = store.createOrganization(org("waiting")).finally(() => (settled = true));
  // The event loop turns while the write waits: timers fire before it settles
  // (SQLite's own busy handler would sleep on the thread, then fail it).
  await new Promise((resolve) => setTimeout(resolve, 20));
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.false(settled, "timers ran while the write still waited for the lock");

  other.exec("COMMIT");
  await write;
  const ids = (other.prepare("SELECT id FROM organizations ORDER BY id").all() as { id: string }[]).map((r) => r.id);
  t.deepEqual(ids, ["before", "theirs", "waiting"]);
});

test("a write that waits more than 5 s for another process's lock fails with SQLITE_BUSY and leaves nothing", async (t) => {
  const { store, other } = storeAndOtherProcess(t);
  other.exec("BEGIN IMMEDIATE");
  const started = performance.now();
  const err = await store.createOrganization(org("never")).then(
    () => undefined,
    (e: unknown) => e,
  );
  // A storage fault (core/store/faults.ts): the caller is told to try again later.
  t.true(err instanceof StorageUnavailable);
  t.is((err as StorageUnavailable).reason, "SQLITE_BUSY");
  t.true(performance.now() - started >= 4900);
  other.exec("ROLLBACK");
  t.is(await store.getOrganization("never"), undefined);
  // The store is usable again.
  await store.createOrganization(org("after"));
  t.truthy(await store.getOrganization("after"));
});
