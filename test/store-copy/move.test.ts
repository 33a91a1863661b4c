/**
 * Moving a deployment between stores with `iam migrate-store`: tokens issued
 * on SQLite (a user's access, refresh and ID tokens through the authorization
 * code flow, a client's access token, a sign-in session, a remembered
 * consent, the audit trail) work on PostgreSQL afterwards, served by two
 * replicas at once; and back from PostgreSQL to SQLite, row for row.
 */
import { join } from "node:path";
import test from "ava";
import Database from "better-sqlite3";
import { decodeJwt } from "jose";
import { tempDir } from "../helpers.js";
import { createDatabase, postgresSuite, query } from "../pg.js";
import {
  backupWhileWriting,
  clientCredentials,
  codeFlow,
  dump,
  iam,
  introspect,
  jwks,
  refresh,
  revoke,
    startServer,
  startWithApp,
  userinfo,
} from "./_support.js";

const pgTest = postgresSuite("moving between stores", test.serial);

pgTest("tokens issued on SQLite verify, refresh and revoke on two PostgreSQL replicas after iam migrate-store", async (t) => {
  t.timeout(180_000);
  const { dir, cleanup } = tempDir();
  const target = await createDatabase();
  t.teardown(async () => (cleanup(), await target.drop()));
  const sqlite = join(dir, "iam.db");

  // Tokens of every kind on SQLite.
  const server = await startWithApp(sqlite);
  const user = await codeFlow(server.url);
  const spare = await codeFlow(server.url);
  const client = await clientCredentials(server.url);
  const keysBefore = await jwks(server.url);
  await server.stop();
  const before = await dump(sqlite);
  t.true(before.sessions!.length >= 1 && before.consents!.length === 1 && before.audit_events!.length > 0);

  const moved = iam(sqlite, ["migrate-store", "--from", sqlite, "--to", target.url]);
  t.is(moved.code, 0, moved.stderr);
  t.regex(moved.stdout, /copied .* into postgres:\/\/.* \d+ tables, \d+ rows/);
  t.regex(moved.stderr, /^iam: warning: .*not in/m);
  t.deepEqual(await dump(target.url), before, "every row of every table, as it was");
  const [deployment] = await query(target.url, "SELECT deployment_id FROM iam_schema");
  t.is(deployment!.deployment_id, readDeployment(sqlite), "the same deployment, moved");

  // Two replicas on the PostgreSQL database.
  const a = await startServer(target.url);
  const b = await startServer(target.url);
  t.teardown(() => Promise.all([a.stop(), b.stop()]));

  // The same signing keys: the JWKS is the one the SQLite server published, and old tokens verify by signature.
  t.deepEqual(await jwks(a.url), keysBefore);
  t.deepEqual(await jwks(b.url), keysBefore);
  for (const replica of [a, b]) {
    t.like(await introspect(replica.url, user.access_token), { active: true, sub: "admin", client_id: "app" });
    t.like(await introspect(replica.url, client), { active: true, client_id: "admin-client" });
    t.is(await userinfo(replica.url, user.access_token), 200);
  }
  t.is(decodeJwt(user.id_token).sub, "admin");
  t.true((keysBefore as { keys: { kid: string }[] }).keys.some((k) => k.kid === JSON.parse(Buffer.from(user.id_token.split(".")[0]!, "base64url").toString()).kid));

  // The refresh token refreshes on one replica; the rotated-out one is then refused on the other, and revokes its family.
  const rotated = await refresh(a.url, user.refresh_token);
  t.is(rotated.status, 200, JSON.stringify(rotated.body));
  const reused = await refresh(b.url, user.refresh_token);
  t.is(reused.status, 400);
  t.is(reused.body.error, "invalid_grant");
  t.like(await introspect(a.url, rotated.body.access_token), { active: false });
  t.like(await introspect(b.url, user.access_token), { active: false });

  // Revocation of a moved token, seen by the other replica.
  await revoke(a.url, spare.refresh_token);
  t.is((await refresh(b.url, spare.refresh_token)).body.error, "invalid_grant");

  // The password hashes moved: the user signs in again, through the other replica.
  const again = await codeFlow(b.url);
  t.like(await introspect(a.url, again.access_token), { active: true, sub: "admin" });

  // The audit trail, moved and appended to since, still verifies.
  const verified = iam(target.url, ["audit", "verify"]);
  t.is(verified.code, 0, verified.stdout + verified.stderr);
  t.regex(verified.stdout, /^ok {6}iam-admins\/iam-admins: \d+ events/m);
});

/** The deployment id a SQLite database records. */
function readDeployment(sqlite: string): string {
  const db = new Database(sqlite, { readonly: true });
  try {
    return (db.prepare("SELECT deployment_id FROM iam_schema").get() as { deployment_id: string }).deployment_id;
  } finally {
    db.close();
  }
}

pgTest("a PostgreSQL deployment moves to SQLite row for row, and serves its tokens there", async (t) => {
  t.timeout(180_000);
  const { dir, cleanup } = tempDir();
  const source = await createDatabase();
  t.teardown(async () => (cleanup(), await source.drop()));
  const server = await startWithApp(source.url);
  const user = await codeFlow(server.url);
  await server.stop();
  const before = await dump(source.url);

  const sqlite = join(dir, "moved.db");
  const moved = iam(source.url, ["migrate-store", "--from", source.url, "--to", sqlite]);
  t.is(moved.code, 0, moved.stderr);
  t.deepEqual(await dump(sqlite), before);

  const after = await startServer(sqlite);
  t.teardown(() => after.stop());
  t.like(await introspect(after.url, user.access_token), { active: true, sub: "admin" });
  t.is((await refresh(after.url, user.refresh_token)).status, 200);
  t.is(iam(sqlite, ["audit", "verify"]).code, 0);
});

pgTest("migrate-store refuses a target that is not empty, and leaves it as it was", async (t) => {
  t.timeout(180_000);
  const { dir, cleanup } = tempDir();
  const target = await createDatabase();
  t.teardown(async () => (cleanup(), await target.drop()));
  const sqlite = join(dir, "iam.db");
  await (await startServer(sqlite)).stop();
  const live = await startServer(target.url);
  await live.stop();
  const before = await dump(target.url);
  const refused = iam(sqlite, ["migrate-store", "--from", sqlite, "--to", target.url]);
  t.is(refused.code, 1);
  t.regex(refused.stderr, /^iam: the target postgres:\/\/.* is not empty: \d+ tables hold rows/);
  t.is(refused.stderr.trim().split("\n").length, 1);
  t.deepEqual(await dump(target.url), before);
});

pgTest("a PostgreSQL backup restores row for row into another PostgreSQL database, and a second restore over it is refused unchanged", async (t) => {
  t.timeout(180_000);
  const { dir, cleanup } = tempDir();
  const [source, target] = [await createDatabase(), await createDatabase()];
  t.teardown(async () => (cleanup(), await source.drop(), await target.drop()));
  const server = await startServer(source.url);
  await clientCredentials(server.url);
  await server.stop();
  const file = join(dir, "pg.backup");
  const taken = iam(source.url, ["backup", file]);
  t.is(taken.code, 0, taken.stderr);
  t.regex(taken.stdout, /postgres schema \d+/);
  t.is(iam(target.url, ["restore", file]).code, 0);
  const restored = await dump(target.url);
  t.deepEqual(restored, await dump(source.url));
  const again = iam(target.url, ["restore", file]);
  t.is(again.code, 1);
  t.regex(again.stderr, /^iam: the target postgres:\/\/.* is not empty/);
  t.deepEqual(await dump(target.url), restored);
});

pgTest("a backup of PostgreSQL replicas taken while they issue tokens restores into SQLite and serves the tokens issued before it", async (t) => {
  t.timeout(180_000);
  const { dir, cleanup } = tempDir();
  const source = await createDatabase();
  t.teardown(async () => (cleanup(), await source.drop()));
  const a = await startWithApp(source.url);
  const b = await startServer(source.url);
  t.teardown(() => Promise.all([a.stop(), b.stop()]));
  const user = await codeFlow(b.url);
  const file = join(dir, "replicas.backup");
  const { backup, failures, issuedDuring } = await backupWhileWriting(source.url, a.url, file);
  t.is(backup.code, 0, backup.stderr);
  t.deepEqual(failures, []);
  t.true(issuedDuring > 0);

  const restored = join(dir, "restored.db");
  t.is(iam(restored, ["restore", file]).code, 0);
  const server = await startServer(restored);
  t.teardown(() => server.stop());
  t.like(await introspect(server.url, user.access_token), { active: true, sub: "admin" });
  t.is((await refresh(server.url, user.refresh_token)).status, 200);
  t.is(iam(restored, ["audit", "verify"]).code, 0);
});
