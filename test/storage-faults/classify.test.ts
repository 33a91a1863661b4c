/**
 * Which errors are storage faults (core/store/faults.ts), told apart on the
 * errors SQLite and PostgreSQL really give: a full file, a read-only one, a
 * lock held past the busy timeout, a file that cannot be opened, a read-only
 * transaction, a session ended by the server, a refused connection are; a
 * constraint violation, a syntax error, a bad value are not, and keep the
 * answer they had.
 */
import { join } from "node:path";
import test, { type ExecutionContext } from "ava";
import Database from "better-sqlite3";
import pg from "pg";
import { isStorageFault, StorageUnavailable } from "../../core/store/faults.js";
import { tempDir } from "../helpers.js";
import { createDatabase, postgresSuite } from "../pg.js";

/** The error `fn` throws (synchronously or not); fails the test if it throws none. */
async function errorOf(t: ExecutionContext, fn: () => unknown): Promise<Error & { code?: string }> {
  try {
    await fn();
  } catch (err) {
    return err as Error & { code?: string };
  }
  t.fail("no error was thrown");
  throw new Error("unreachable");
}

/** A SQLite file with one table, in a directory of the test's own. */
function sqliteFile(t: ExecutionContext): { path: string; dir: string } {
  const tmp = tempDir();
  t.teardown(() => tmp.cleanup());
  const path = join(tmp.dir, "faults.db");
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, blob BLOB)");
  db.prepare("INSERT INTO t VALUES (1, randomblob(8192))").run();
  db.close();
  return { path, dir: tmp.dir };
}

function open(t: ExecutionContext, path: string, options?: Database.Options): Database.Database {
  const db = new Database(path, options);
  t.teardown(() => void (db.open && db.close()));
  return db;
}

test("SQLite: a full file, a read-only one, a lock held past the busy timeout and a file that cannot be opened are storage faults", async (t) => {
  const { path, dir } = sqliteFile(t);

  const full = open(t, path);
  full.pragma(`max_page_count = ${full.pragma("page_count", { simple: true }) as number}`);
  const noRoom = await errorOf(t, () => full.prepare("INSERT INTO t VALUES (2, randomblob(65536))").run());
  t.is(noRoom.code, "SQLITE_FULL");

  const readOnly = await errorOf(t, () => open(t, path, { readonly: true }).prepare("INSERT INTO t VALUES (3, NULL)").run());
  t.is(readOnly.code, "SQLITE_READONLY");

  const holder = open(t, path);
  holder.exec("BEGIN IMMEDIATE");
  const waiter = open(t, path);
  waiter.pragma("busy_timeout = 0");
  const busy = await errorOf(t, () => waiter.exec("BEGIN IMMEDIATE"));
  t.is(busy.code, "SQLITE_BUSY");
  holder.exec("ROLLBACK");

  const cannotOpen = await errorOf(t, () => new Database(dir));
  t.is(cannotOpen.code, "SQLITE_CANTOPEN");

  for (const err of [noRoom, readOnly, busy, cannotOpen]) t.true(isStorageFault(err), err.code);
  // As the store throws it, and as an error that was caused by one.
  t.true(isStorageFault(new StorageUnavailable(noRoom)));
  t.true(isStorageFault(new Error("commit failed", { cause: readOnly })));
  t.is(new StorageUnavailable(busy).reason, "SQLITE_BUSY");
});

test("SQLite: a constraint violation, a syntax error and a misuse are not storage faults", async (t) => {
  const { path } = sqliteFile(t);
  const db = open(t, path);
  const duplicate = await errorOf(t, () => db.prepare("INSERT INTO t VALUES (1, NULL)").run());
  t.is(duplicate.code, "SQLITE_CONSTRAINT_PRIMARYKEY");
  const syntax = await errorOf(t, () => db.exec("INSERT INTO nowhere VALUES (1)"));
  t.is(syntax.code, "SQLITE_ERROR");
  const misuse = await errorOf(t, () => db.prepare("SELECT ?").get());
  for (const err of [duplicate, syntax, misuse]) t.false(isStorageFault(err), `${err.code}: ${err.message}`);
  t.false(isStorageFault(new Error("anything else")));
  t.false(isStorageFault(undefined));
});

const maybe = postgresSuite("storage faults told apart on PostgreSQL");

maybe("PostgreSQL: a read-only transaction, a session the server ends and a refused connection are storage faults; a constraint or a bad value is not", async (t) => {
  const db = await createDatabase();
  const client = new pg.Client({ connectionString: db.url });
  const admin = new pg.Client({ connectionString: db.url });
  client.on("error", () => {});
  t.teardown(async () => {
    await client.end().catch(() => {});
    await admin.end().catch(() => {});
    await db.drop();
  });
  await client.connect();
  await admin.connect();
  await client.query("CREATE TABLE t (id INTEGER PRIMARY KEY)");
  await client.query("INSERT INTO t VALUES (1)");

  const duplicate = await errorOf(t, () => client.query("INSERT INTO t VALUES (1)"));
  t.is(duplicate.code, "23505");
  const badValue = await errorOf(t, () => client.query("INSERT INTO t VALUES ('one')"));
  t.is(badValue.code, "22P02");
  const syntax = await errorOf(t, () => client.query("INSERT INTO nowhere VALUES (1)"));
  t.is(syntax.code, "42P01");
  for (const err of [duplicate, badValue, syntax]) t.false(isStorageFault(err), err.code);

  await client.query("BEGIN READ ONLY");
  const readOnly = await errorOf(t, () => client.query("INSERT INTO t VALUES (2)"));
  await client.query("ROLLBACK");
  t.is(readOnly.code, "25006");

  const { rows } = await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
  await admin.query("SELECT pg_terminate_backend($1)", [rows[0]!.pid]);
  const ended = await errorOf(t, () => client.query("SELECT 1"));

  const refused = await errorOf(t, () => new pg.Client({ connectionString: "postgres://nobody@127.0.0.1:1/none" }).connect());
  t.is(refused.code, "ECONNREFUSED");

  for (const err of [readOnly, ended, refused]) t.true(isStorageFault(err), `${err.code}: ${err.message}`);
});
