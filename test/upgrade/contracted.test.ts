/**
 * The current release as the older replica of the next upgrade, as the next
 * release's migrations will leave the database (simulated here by what they
 * write to it): one that only expands (a newer version, oldest_compatible
 * unchanged) is served as it is; one that contracts (oldest_compatible
 * raised past this release's schema) is refused at start, `iam start`
 * exiting 1 with the versions involved on stderr, before it ever listens, and
 * the database is left as it was. docs/upgrades.md quotes the message.
 */
import test, { type ExecutionContext } from "ava";
import Database from "better-sqlite3";
import { join } from "node:path";
import { migrations as postgresMigrations } from "../../core/store/postgres/migrations.js";
import { openPostgresStore } from "../../core/store/postgres/store.js";
import { migrations as sqliteMigrations } from "../../core/store/sqlite/migrations.js";
import { openSqliteStore } from "../../core/store/sqlite/store.js";
import { startCluster } from "../gateway/_cluster.js";
import { compiledIam, tempDir } from "../helpers.js";
import { createDatabase, postgresSuite, query } from "../pg.js";
import { seed, SERVER_ENV, tokenIntrospected } from "./_load.js";

test.before(() => compiledIam());

/** What the next release's migrations would have made of the database: its version, the oldest schema it lets serve it. */
interface Next {
  version: number;
  oldestCompatible: number;
}

/**
 * `simulate` moves the database as the next release would; then the current
 * release starts on it. Expanded: it serves. Contracted: it refuses.
 */
async function olderReplica(t: ExecutionContext, db: string, backend: string, known: number, simulate: (next: Next) => Promise<void>) {
  t.timeout(300_000);
  await simulate({ version: known + 1, oldestCompatible: known });
  const expanded = startCluster({ ...SERVER_ENV, IAM_DB: db });
  t.teardown(expanded.kill);
  const at = { name: "current release", port: (await expanded.up).http };
  await seed(at, (await expanded.up).grpc);
  t.truthy(await tokenIntrospected(at, at), "an expanded database is served");
  process.kill(expanded.child.pid!, "SIGTERM");
  t.is(await expanded.exited, 0);

  await simulate({ version: known + 2, oldestCompatible: known + 2 });
  const contracted = startCluster({ ...SERVER_ENV, IAM_DB: db });
  t.teardown(contracted.kill);
  contracted.up.catch(() => {}); // it never comes up: what it says is read below
  t.is(await contracted.exited, 1);
  const { stdout, stderr } = contracted.output();
  t.true(
    stderr.split("\n").includes(
      `iam: could not start: the ${backend} database is at schema version ${known + 2}, which needs an iam-core of schema ${known + 2} or newer; ` +
        `this iam-core knows schema ${known}: run the newer iam-core that migrated it`,
    ),
    stderr,
  );
  t.notRegex(stdout, /on port/, "it never listened");
}

test("sqlite: the current release serves a database the next one only expanded, and refuses, exiting 1, one it contracted", async (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const file = join(dir, "iam.db");
  openSqliteStore(file).close();
  let audit = 0;
  const simulate = async (next: Next) => {
    const db = new Database(file);
    db.pragma(`user_version = ${next.version}`);
    db.prepare("UPDATE iam_schema SET oldest_compatible = ?").run(next.oldestCompatible);
    audit = (db.prepare("SELECT count(*) AS n FROM audit_events").get() as { n: number }).n;
    db.close();
  };
  await olderReplica(t, file, "SQLite", sqliteMigrations.length, simulate);
  const db = new Database(file, { readonly: true });
  t.is(db.pragma("user_version", { simple: true }), sqliteMigrations.length + 2, "left as it was");
  t.is((db.prepare("SELECT count(*) AS n FROM audit_events").get() as { n: number }).n, audit, "nothing written");
  db.close();
});

postgresSuite("contracted schema on PostgreSQL")(
  "postgres: the current release serves a database the next one only expanded, and refuses, exiting 1, one it contracted",
  async (t) => {
    const db = await createDatabase();
    t.teardown(() => db.drop());
    await (await openPostgresStore(db.url)).close();
    let audit = "";
    const simulate = async (next: Next) => {
      await query(db.url, "UPDATE iam_schema SET version = $1, oldest_compatible = $2", [next.version, next.oldestCompatible]);
      audit = (await query(db.url, "SELECT count(*) AS n FROM audit_events"))[0]!.n as string;
    };
    await olderReplica(t, db.url, "PostgreSQL", postgresMigrations.length, simulate);
    t.deepEqual(await query(db.url, "SELECT version, oldest_compatible FROM iam_schema"), [
      { version: postgresMigrations.length + 2, oldest_compatible: postgresMigrations.length + 2 },
    ]);
    t.is((await query(db.url, "SELECT count(*) AS n FROM audit_events"))[0]!.n, audit, "nothing written");
  },
);
