/**
 * The PostgreSQL server of the tests: IAM_TEST_POSTGRES names it (a URL to
 * a database the tests may create databases from, as `npm test` sets up with
 * scripts/postgres-test-cluster.sh). Each store or core under test gets a
 * database of its own, dropped at teardown; one template database with the
 * store's schema (iam_test_schema_…) stays on the server between runs. Not a
 * test file itself.
 */
import { createHash, randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import test, { type ExecutionContext } from "ava";
import pg from "pg";

export const POSTGRES_URL = process.env.IAM_TEST_POSTGRES ?? "";
/** Whether the suites that need PostgreSQL can run; when not, they are skipped with a notice. */
export const HAS_POSTGRES = POSTGRES_URL !== "";
/** Set by `npm test`'s PostgreSQL pass: the cores of the shared fixtures run on PostgreSQL instead of SQLite. */
export const ON_POSTGRES = HAS_POSTGRES && process.env.IAM_TEST_BACKEND === "postgres";
export const SKIP_NOTICE = "PostgreSQL not configured (set IAM_TEST_POSTGRES, see scripts/postgres-test-cluster.sh): skipped";

type Register = (title: string, implementation: (t: ExecutionContext) => Promise<void> | void) => void;

/**
 * How a suite that needs PostgreSQL registers its tests: ava's `test` (or
 * `test.serial`) when a server is configured; otherwise each is registered
 * as skipped, and one skipped test names the suite and says why.
 */
export function postgresSuite(suite: string, register: Register = test): Register {
  if (HAS_POSTGRES) return register;
  test.skip(`${suite}: ${SKIP_NOTICE}`, () => {});
  return test.skip;
}

/**
 * Connections of the tests to the test server, one small pool per database,
 * kept between queries (a snapshot of every table is a few dozen queries).
 * Idle connections do not keep a test process alive, and a database's pool
 * is ended before the database is dropped.
 */
const pools = new Map<string, pg.Pool>();
function poolOf(url: string): pg.Pool {
  let pool = pools.get(url);
  if (pool === undefined) {
    pool = new pg.Pool({ connectionString: url, max: 4, allowExitOnIdle: true });
    // A connection the server ends (a dropped database, a terminated backend) is replaced at the next query.
    pool.on("error", () => {});
    pools.set(url, pool);
  }
  return pool;
}

async function endPool(url: string): Promise<void> {
  const pool = pools.get(url);
  pools.delete(url);
  await pool?.end();
}

let createOptions: Promise<string> | undefined;
/**
 * How databases are created: by copying the template's files (PostgreSQL 15
 * and later). The default since 15 writes the whole template to the WAL: for
 * the small databases of the tests, twice the server's work over a run.
 */
function creationOptions(): Promise<string> {
  createOptions ??= poolOf(POSTGRES_URL)
    .query<{ server_version_num: string }>("SHOW server_version_num")
    .then(({ rows }) => (Number(rows[0]!.server_version_num) >= 150000 ? " STRATEGY FILE_COPY" : ""));
  return createOptions;
}

function urlOf(name: string): string {
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A new empty database on the test server: its URL, and a function that drops it. */
export async function createDatabase(template?: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `iam_test_${randomBytes(6).toString("hex")}`;
  await poolOf(POSTGRES_URL).query(`CREATE DATABASE ${name}${template === undefined ? "" : ` TEMPLATE ${template}`}${await creationOptions()}`);
  const url = urlOf(name);
  return {
    url,
    drop: async () => {
      await endPool(url);
      await poolOf(POSTGRES_URL).query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

const SCHEMA_PREFIX = "iam_test_schema_";
let schemaTemplate: Promise<string> | undefined;

/**
 * The template of migrated databases: the store's schema applied once and
 * kept on the test server, named by a hash of core/store/postgres/ (a change
 * there makes a new one and drops the old). Processes that make it at once
 * each build their own under a temporary name; the first to rename it wins.
 */
function migratedTemplate(): Promise<string> {
  schemaTemplate ??= (async () => {
    const folder = fileURLToPath(new URL("../core/store/postgres/", import.meta.url));
    const hash = createHash("sha256");
    for (const entry of readdirSync(folder, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.isFile()) hash.update(entry.name).update(readFileSync(`${folder}${entry.name}`));
    }
    const name = `${SCHEMA_PREFIX}${hash.digest("hex").slice(0, 16)}`;
    const admin = poolOf(POSTGRES_URL);
    const exists = async () => (await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [name])).rowCount === 1;
    if (await exists()) return name;
    const building = `${name}_${randomBytes(4).toString("hex")}`;
    await admin.query(`CREATE DATABASE ${building}${await creationOptions()}`);
    // Loaded here: most test processes never open a PostgreSQL store.
    const { openPostgresStore } = await import("../core/store/postgres/store.js");
    await (await openPostgresStore(urlOf(building))).close();
    // No connections: a database is copied only while nobody is connected to it.
    await admin.query(`ALTER DATABASE ${building} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`);
    try {
      await admin.query(`ALTER DATABASE ${building} RENAME TO ${name}`);
    } catch (err) {
      await admin.query(`ALTER DATABASE ${building} WITH IS_TEMPLATE false`);
      await admin.query(`DROP DATABASE ${building}`);
      if (!(await exists())) throw err;
      return name;
    }
    // Templates of other schemas; not this one, nor another process's copy of it still being built.
    const stale = await admin.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE $1 AND datname NOT LIKE $2", [`${SCHEMA_PREFIX}%`, `${name}%`]);
    for (const { datname } of stale.rows) {
      await admin.query(`ALTER DATABASE ${datname} WITH IS_TEMPLATE false`).catch(() => {});
      await admin.query(`DROP DATABASE IF EXISTS ${datname}`).catch(() => {});
    }
    return name;
  })();
  return schemaTemplate;
}

/**
 * A new database with the store's schema already applied: what the cores of
 * the PostgreSQL pass start on, instead of each migrating an empty database
 * (the store contract and the replica suites start on empty ones, so the
 * migrations themselves stay tested).
 */
export async function createMigratedDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  return createDatabase(await migratedTemplate());
}

/** Runs one query on a database of the tests (to look at rows, or to change them behind the server's back). */
export async function query<T extends pg.QueryResultRow = Record<string, any>>(url: string, sql: string, values: unknown[] = []): Promise<T[]> {
  return (await poolOf(url).query<T>(sql, values)).rows;
}
