/**
 * The PostgreSQL server of the tests: IAM_TEST_POSTGRES names it (a URL to
 * a database the tests may create databases from, as `.ci/run` sets up with
 * scripts/postgres-test-cluster.sh). Each store or core under test gets a
 * database of its own, dropped at teardown. Not a test file itself.
 */
import { randomBytes } from "node:crypto";
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

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A new empty database on the test server: its URL, and a function that drops it. */
export async function createDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `iam_test_${randomBytes(6).toString("hex")}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => {}),
  };
}

/** Runs one query on a database of the tests (to look at rows, or to change them behind the server's back). */
export async function query<T extends pg.QueryResultRow = Record<string, any>>(url: string, sql: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, values)).rows;
  } finally {
    await client.end();
  }
}
