/**
 * The copy layer itself (core/store/copy/), called directly: a database of
 * an older schema is loaded at its own version and migrated forward in the
 * copy's transaction; PostgreSQL's generated ids continue after the copied
 * ones; booleans and lists cross between the backends' types.
 */
import { join } from "node:path";
import test from "ava";
import Database from "better-sqlite3";
import { backupSnapshot, writeBackup } from "../../core/store/copy/backup-file.js";
import { copyInto } from "../../core/store/copy/copy.js";
import { openSnapshot, openTarget } from "../../core/store/copy/open.js";
import { KNOWN_VERSION } from "../../core/store/copy/shape.js";
import type { Snapshot } from "../../core/store/copy/snapshot.js";
import { createKeySealer } from "../../core/store/sealing.js";
import { migrations } from "../../core/store/sqlite/migrations.js";
import { openDatabase } from "../../core/store/sqlite/store.js";
import { tempDir } from "../helpers.js";
import { createDatabase, postgresSuite, query } from "../pg.js";

const sealer = createKeySealer();

async function copy(source: Snapshot, db: string) {
  const target = await openTarget(db);
  try {
    return await copyInto(source, target, { sealer, what: "the source" });
  } finally {
    await target.close();
    await source.close();
  }
}

/** A SQLite database at schema 11 (before iam_schema recorded the deployment), with an organization, a project and a client. */
function olderDatabase(path: string): void {
  const db = new Database(path);
  for (const migration of migrations.slice(0, 11)) db.exec(migration);
  db.pragma("user_version = 11");
  db.exec(`INSERT INTO organizations (id, name, created_at) VALUES ('acme', 'Acme', 1);
    INSERT INTO projects (organization_id, id, name, audience, created_at, require_pushed_authorization_requests) VALUES ('acme', 'web', 'Web', 'api', 1, 1);
    INSERT INTO clients (organization_id, project_id, id, name, type, secret_hash, redirect_uris, grant_types, pkce_required, access_token_ttl, refresh_token_ttl, created_at)
      VALUES ('acme', 'web', 'spa', 'SPA', 'public', '', '["https://spa.test/cb"]', '["authorization_code"]', 1, 600, 3600, 1);`);
  db.close();
}

test("a backup of an older schema restores into SQLite at this iam-core's schema, with a deployment recorded", async (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  olderDatabase(join(dir, "old.db"));
  await writeBackup(await openSnapshot(join(dir, "old.db")), join(dir, "old.backup"), false);
  const backup = await backupSnapshot(join(dir, "old.backup"));
  t.is(backup.version, 11);
  t.is(backup.deployment, undefined);
  await copy(backup, join(dir, "new.db"));

  const db = new Database(join(dir, "new.db"), { readonly: true });
  t.teardown(() => db.close());
  t.is(db.pragma("user_version", { simple: true }), KNOWN_VERSION.sqlite);
  t.regex((db.prepare("SELECT deployment_id FROM iam_schema").get() as { deployment_id: string }).deployment_id, /^[0-9a-f]{32}$/);
  t.deepEqual(db.prepare("SELECT id, redirect_uris, pkce_required FROM clients").all(), [{ id: "spa", redirect_uris: '["https://spa.test/cb"]', pkce_required: 1 }]);
});

const pgTest = postgresSuite("the copy layer on PostgreSQL");

pgTest("an older SQLite schema moves into PostgreSQL's equivalent, then forward; lists and booleans take PostgreSQL's types", async (t) => {
  const { dir, cleanup } = tempDir();
  const target = await createDatabase();
  t.teardown(async () => (cleanup(), await target.drop()));
  olderDatabase(join(dir, "old.db"));
  await copy(await openSnapshot(join(dir, "old.db")), target.url);
  const [schema] = await query(target.url, "SELECT version, deployment_id FROM iam_schema");
  t.is(schema!.version, KNOWN_VERSION.postgres);
  t.regex(schema!.deployment_id, /^[0-9a-f]{32}$/);
  t.deepEqual(await query(target.url, "SELECT redirect_uris, pkce_required FROM clients"), [{ redirect_uris: ["https://spa.test/cb"], pkce_required: true }]);
  t.deepEqual(await query(target.url, "SELECT require_pushed_authorization_requests FROM projects"), [{ require_pushed_authorization_requests: true }]);
});

pgTest("after a move into PostgreSQL, the next generated id follows the copied ones", async (t) => {
  const { dir, cleanup } = tempDir();
  const target = await createDatabase();
  t.teardown(async () => (cleanup(), await target.drop()));
  const path = join(dir, "iam.db");
  const db = openDatabase(path);
  db.exec(`INSERT INTO organizations (id, name, created_at) VALUES ('acme', 'Acme', 1);
    INSERT INTO projects (organization_id, id, name, audience, created_at) VALUES ('acme', 'web', 'Web', 'api', 1);
    INSERT INTO logout_deliveries (id, organization_id, project_id, session_id, client_id, uri, status, outcome, attempts, error, at)
      VALUES (41, 'acme', 'web', 's', 'c', 'https://rp.test/logout', 200, 'delivered', 1, '', 1);`);
  db.close();
  await copy(await openSnapshot(path), target.url);
  const [next] = await query(
    target.url,
    `INSERT INTO logout_deliveries (organization_id, project_id, session_id, client_id, uri, status, outcome, attempts, error, at)
     VALUES ('acme', 'web', 's2', 'c', 'https://rp.test/logout', 200, 'delivered', 1, '', 2) RETURNING id`,
  );
  t.is(Number(next!.id), 42);
});

pgTest("a PostgreSQL schema shared with another application: its tables are neither copied, counted, nor dropped", async (t) => {
  const { dir, cleanup } = tempDir();
  const target = await createDatabase();
  t.teardown(async () => (cleanup(), await target.drop()));
  await query(target.url, "CREATE TABLE other_app (doc JSONB NOT NULL); INSERT INTO other_app VALUES ('{\"kept\": true}')");
  const path = join(dir, "iam.db");
  openDatabase(path).close();
  await copy(await openSnapshot(path), target.url);
  const forced = await openTarget(target.url);
  t.teardown(() => forced.close());
  await copyInto(await openSnapshot(path), forced, { sealer, what: "the source", force: true });
  t.deepEqual(await query(target.url, "SELECT doc FROM other_app"), [{ doc: { kept: true } }]);
  const backup = await openSnapshot(target.url);
  t.false(backup.tables.some((table) => table.name === "other_app"));
  await backup.close();
});
