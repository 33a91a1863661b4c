/**
 * A rolling upgrade from the previous release (test/upgrade/previous-release.json),
 * as docs/upgrades.md tells it: the previous release's server on a fresh
 * database with a client, a user and tokens; the current server started on
 * the same database, migrating it (expand) while the previous one serves;
 * both serving together under load, every step of a sign-in and of a token's
 * life through the one and then the other; the previous one drained and
 * stopped. No request fails, and what either issued verifies and refreshes
 * on the other. On SQLite (one file, two servers of two workers each) and on
 * PostgreSQL.
 */
import test, { type ExecutionContext } from "ava";
import Database from "better-sqlite3";
import { join } from "node:path";
import { migrations as postgresMigrations } from "../../core/store/postgres/migrations.js";
import { migrations as sqliteMigrations } from "../../core/store/sqlite/migrations.js";
import { startCluster } from "../gateway/_cluster.js";
import { compiledIam, tempDir } from "../helpers.js";
import { createDatabase, postgresSuite, query } from "../pg.js";
import { introspectActive, loadLoop, refreshed, seed, SERVER_ENV, signInAndRefresh, type Target, tokenIntrospected } from "./_load.js";
import { buildPreviousRelease, type PreviousRelease } from "./_previous.js";

let previous: PreviousRelease;
test.before(() => {
  previous = buildPreviousRelease();
  compiledIam();
});

function server(t: ExecutionContext, db: string, bin?: string) {
  const started = startCluster({ ...SERVER_ENV, IAM_DB: db }, [], "start", bin);
  t.teardown(started.kill);
  return started;
}

/** Waits until each of `pairs` ("issuer→verifier") has served `rounds` rounds, or the loop has reported a failure. */
async function served(load: ReturnType<typeof loadLoop>, pairs: string[], rounds = 3): Promise<void> {
  while (load.failures.length === 0 && pairs.some((pair) => (load.served.get(pair) ?? 0) < rounds)) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * The upgrade itself, on the database `db`; `schemaOf` reads its schema
 * version. Answers the migrated database's servers, the previous release's
 * stopped, for what a backend adds.
 */
async function rollingUpgrade(t: ExecutionContext, db: string, schemaOf: () => Promise<number>, schemas: { before: number; after: number }) {
  t.timeout(300_000);
  const old = server(t, db, previous.entry);
  const oldTarget: Target = { name: `previous release ${previous.version}`, port: (await old.up).http };
  t.is(await schemaOf(), schemas.before);
  await seed(oldTarget, (await old.up).grpc);
  const issuedBefore = { token: await tokenIntrospected(oldTarget, oldTarget), refresh: await signInAndRefresh(oldTarget, oldTarget) };

  const load = loadLoop([oldTarget]);
  t.teardown(() => load.stop());
  await served(load, [`${oldTarget.name}→${oldTarget.name}`]);
  // The current release starts and migrates the database under the previous one's load.
  const oldAlone = `${oldTarget.name}→${oldTarget.name}`;
  const roundsBefore = load.served.get(oldAlone)!;
  const current = server(t, db);
  const currentTarget: Target = { name: "current release", port: (await current.up).http };
  t.is(await schemaOf(), schemas.after, "the current release migrated the database");
  t.true(load.served.get(oldAlone)! > roundsBefore, "the previous release served while the current one started and migrated");

  await load.retarget([oldTarget, currentTarget]);
  await served(load, [`${oldTarget.name}→${currentTarget.name}`, `${currentTarget.name}→${oldTarget.name}`]);
  // What the previous release issued before the upgrade, on the current one.
  await introspectActive(currentTarget, issuedBefore.token);
  const refreshToken = await refreshed(currentTarget, oldTarget, issuedBefore.refresh);

  // The previous release drained, then stopped as an orchestrator does (SIGTERM): a clean stop.
  await load.retarget([currentTarget]);
  process.kill(old.child.pid!, "SIGTERM");
  t.is(await old.exited, 0, old.output().stderr);
  await served(load, [`${currentTarget.name}→${currentTarget.name}`], 6);
  await load.stop();

  t.log(`rounds served (issuer→verifier): ${JSON.stringify(Object.fromEntries(load.served))}`);
  t.deepEqual(load.failures.map((f) => f.message), [], "no request failed across the upgrade");
  t.true(load.served.get(`${oldTarget.name}→${currentTarget.name}`)! >= 3 && load.served.get(`${currentTarget.name}→${oldTarget.name}`)! >= 3);
  return { currentTarget, refreshToken, current };
}

test("sqlite: the previous release and the current one serve one database file together across the migration, with no failed request", async (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const file = join(dir, "iam.db");
  const schemaOf = async () => {
    const db = new Database(file, { readonly: true });
    const version = db.pragma("user_version", { simple: true }) as number;
    db.close();
    return version;
  };
  const { currentTarget, refreshToken } = await rollingUpgrade(t, file, schemaOf, { before: previous.schema.sqlite, after: sqliteMigrations.length });

  // Rolling back: the previous release serves the expanded file again, and what the current one issued.
  const again = server(t, file, previous.entry);
  const back: Target = { name: "previous release, rolled back", port: (await again.up).http };
  await refreshed(back, currentTarget, refreshToken);
  t.truthy(await tokenIntrospected(currentTarget, back));
  t.is(await schemaOf(), sqliteMigrations.length, "a rollback leaves the schema as it is");
});

postgresSuite("rolling upgrade on PostgreSQL")(
  "postgres: the previous release and the current one serve one database together across the migration, with no failed request",
  async (t) => {
    const db = await createDatabase();
    t.teardown(() => db.drop());
    const schemaOf = async () => ((await query<{ version: number }>(db.url, "SELECT version FROM iam_schema"))[0]?.version ?? 0);
    await rollingUpgrade(t, db.url, schemaOf, { before: previous.schema.postgres, after: postgresMigrations.length });

    // The previous release predates the compatibility record: once migrated, it refuses to start on this
    // database (docs/upgrades.md: upgrade every replica forward; roll back from a backup).
    const late = startCluster({ ...SERVER_ENV, IAM_DB: db.url }, [], "start", previous.entry);
    t.teardown(late.kill);
    late.up.catch(() => {}); // it never comes up: what it says is read below
    t.is(await late.exited, 1);
    t.regex(
      late.output().stderr,
      new RegExp(`the database schema \\(version ${postgresMigrations.length}\\) is newer than this iam-core knows \\(${previous.schema.postgres}\\)`),
    );
    t.notRegex(late.output().stdout, /gateway on port/);
  },
);
