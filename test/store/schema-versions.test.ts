/**
 * Schema versions across releases (core/store/schema.ts), on both backends: a
 * database says which deployment it belongs to and the oldest schema that can
 * serve it; a server of an older schema serves a newer database that says it
 * may (a rolling upgrade), and refuses one that does not, changing nothing.
 */
import { join } from "node:path";
import test from "ava";
import Database from "better-sqlite3";
import { migrations as sqliteMigrations, OLDEST_COMPATIBLE as SQLITE_OLDEST } from "../../core/store/sqlite/migrations.js";
import { migrations as postgresMigrations, OLDEST_COMPATIBLE as POSTGRES_OLDEST } from "../../core/store/postgres/migrations.js";
import { openSqliteStore } from "../../core/store/sqlite/store.js";
import { openPostgresStore } from "../../core/store/postgres/store.js";
import { schemaVerdict, SchemaTooNewError } from "../../core/store/schema.js";
import { tempDir } from "../helpers.js";
import { createDatabase, HAS_POSTGRES, query, SKIP_NOTICE } from "../pg.js";

test("a server migrates an older or current database, serves a newer one that names its schema compatible, and refuses any other", (t) => {
  t.is(schemaVerdict("SQLite", 12, { version: 0, oldestCompatible: undefined }), "migrate");
  t.is(schemaVerdict("SQLite", 12, { version: 12, oldestCompatible: 11 }), "migrate");
  t.is(schemaVerdict("SQLite", 12, { version: 14, oldestCompatible: 12 }), "compatible");
  t.is(schemaVerdict("SQLite", 12, { version: 14, oldestCompatible: 9 }), "compatible");
  const contracted = t.throws(() => schemaVerdict("SQLite", 12, { version: 14, oldestCompatible: 13 }), { instanceOf: SchemaTooNewError });
  t.is(
    contracted.message,
    "the SQLite database is at schema version 14, which needs an iam-core of schema 13 or newer; this iam-core knows schema 12: run the newer iam-core that migrated it",
  );
  const unmarked = t.throws(() => schemaVerdict("PostgreSQL", 8, { version: 9, oldestCompatible: undefined }), { instanceOf: SchemaTooNewError });
  t.regex(unmarked.message, /PostgreSQL database is at schema version 9, which needs an iam-core of schema 9; this iam-core knows schema 8/);
});

test("sqlite: a new database records a random deployment id and the oldest compatible schema", async (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const ids = new Set<string>();
  for (const name of ["a.db", "b.db"]) {
    const path = join(dir, name);
    openSqliteStore(path).close();
    const db = new Database(path, { readonly: true });
    const row = db.prepare("SELECT * FROM iam_schema").all() as { deployment_id: string; oldest_compatible: number }[];
    t.is(db.pragma("user_version", { simple: true }), sqliteMigrations.length);
    db.close();
    t.is(row.length, 1);
    t.regex(row[0]!.deployment_id, /^[0-9a-f]{32}$/);
    t.is(row[0]!.oldest_compatible, SQLITE_OLDEST);
    ids.add(row[0]!.deployment_id);
  }
  t.is(ids.size, 2, "each database its own deployment");
});

test("sqlite: a database one expand migration ahead is served as it is; one whose newer schema is not compatible is refused and left untouched", async (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const path = join(dir, "iam.db");
  openSqliteStore(path).close();
  const ahead = sqliteMigrations.length + 1;
  const db = new Database(path);
  db.exec("CREATE TABLE from_a_newer_release (x INTEGER)");
  db.pragma(`user_version = ${ahead}`);
  db.close();

  const store = openSqliteStore(path);
  await store.createOrganization({ id: "acme", name: "Acme", createdAt: 0 });
  t.is((await store.getOrganization("acme"))?.name, "Acme");
  store.close();
  const after = new Database(path);
  t.is(after.pragma("user_version", { simple: true }), ahead, "an older server never moves the version");
  after.prepare("UPDATE iam_schema SET oldest_compatible = ?").run(ahead);
  after.close();

  const refused = t.throws(() => openSqliteStore(path), { instanceOf: SchemaTooNewError });
  t.regex(refused.message, new RegExp(`SQLite database is at schema version ${ahead}, which needs an iam-core of schema ${ahead} or newer`));
  const untouched = new Database(path, { readonly: true });
  t.is(untouched.pragma("user_version", { simple: true }), ahead);
  untouched.close();
});

test("sqlite: a newer database without the compatibility record is refused", (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const path = join(dir, "iam.db");
  const db = new Database(path);
  db.pragma("user_version = 99");
  db.close();
  t.throws(() => openSqliteStore(path), { instanceOf: SchemaTooNewError, message: /schema version 99, which needs an iam-core of schema 99;/ });
});

if (HAS_POSTGRES) {
  test("postgres: a new database records a deployment id and the oldest compatible schema; one expand migration ahead is served, a contracted one refused", async (t) => {
    const db = await createDatabase();
    t.teardown(() => db.drop());
    await (await openPostgresStore(db.url)).close();
    const [row] = (await query(db.url, "SELECT * FROM iam_schema")) as { version: number; deployment_id: string; oldest_compatible: number }[];
    t.is(row!.version, postgresMigrations.length);
    t.regex(row!.deployment_id, /^[0-9a-f]{32}$/);
    t.is(row!.oldest_compatible, POSTGRES_OLDEST);

    const ahead = postgresMigrations.length + 1;
    await query(db.url, `CREATE TABLE from_a_newer_release (x INTEGER); UPDATE iam_schema SET version = ${ahead}`);
    const store = await openPostgresStore(db.url);
    await store.createOrganization({ id: "acme", name: "Acme", createdAt: 0 });
    t.is((await store.getOrganization("acme"))?.name, "Acme");
    await store.close();
    t.deepEqual(await query(db.url, "SELECT version FROM iam_schema"), [{ version: ahead }]);

    await query(db.url, `UPDATE iam_schema SET oldest_compatible = ${ahead}`);
    await t.throwsAsync(openPostgresStore(db.url), {
      instanceOf: SchemaTooNewError,
      message: new RegExp(`PostgreSQL database is at schema version ${ahead}, which needs an iam-core of schema ${ahead} or newer`),
    });
    t.deepEqual(await query(db.url, "SELECT version, oldest_compatible FROM iam_schema"), [{ version: ahead, oldest_compatible: ahead }]);
  });
} else {
  test.skip(`postgres schema versions: ${SKIP_NOTICE}`, () => {});
}
