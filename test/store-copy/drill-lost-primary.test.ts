/**
 * The drill of docs/backup.md, "The primary database is lost": a backup is
 * taken as the schedule takes it, the database is destroyed, the
 * procedure's commands are run as written (restore into the configured
 * path, start), and what was issued before the backup works again.
 */
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import test from "ava";
import { tempDir } from "../helpers.js";
import { clientCredentials, codeFlow, iam, introspect, jwks, refresh, startServer, startWithApp } from "./_support.js";

test.serial("drill: the primary SQLite database is lost, restored from the last backup, and serves the tokens issued before it", async (t) => {
  t.timeout(180_000);
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const db = join(dir, "data", "iam.db");
  const server = await startWithApp(db);
  const user = await codeFlow(server.url);
  const client = await clientCredentials(server.url);
  const keys = await jwks(server.url);

  // 1. The scheduled backup, of the running server.
  const backup = join(dir, "backups", "iam.backup");
  const taken = iam(db, ["backup", backup]);
  t.is(taken.code, 0, taken.stderr);

  // The disk holding the database fails: the server stops, the files are gone (WAL included).
  await server.stop();
  for (const suffix of ["", "-wal", "-shm"]) rmSync(`${db}${suffix}`, { force: true });
  // A server started now would make a new, empty deployment: the procedure restores first.

  // 2. Restore into the configured path, which is empty again.
  const restored = iam(db, ["restore", backup]);
  t.is(restored.code, 0, restored.stderr);
  t.regex(restored.stdout, /checksum verified/);

  // 3. Start, and check.
  const again = await startServer(db);
  t.teardown(() => again.stop());
  t.deepEqual(await jwks(again.url), keys, "the same signing keys");
  t.like(await introspect(again.url, user.access_token), { active: true, sub: "admin" });
  t.like(await introspect(again.url, client), { active: true, client_id: "admin-client" });
  t.is((await refresh(again.url, user.refresh_token)).status, 200);
  const verified = iam(db, ["audit", "verify"]);
  t.is(verified.code, 0, verified.stdout);

  // A damaged copy of the backup would have been refused before anything was written.
  writeFileSync(join(dir, "torn.backup"), "");
  t.is(iam(join(dir, "other.db"), ["restore", join(dir, "torn.backup")]).code, 1);
});
