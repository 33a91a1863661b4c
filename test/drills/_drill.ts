/**
 * What the drills of docs/disaster-recovery.md share: the server as `npm
 * start` runs it (two workers) on a SQLite file or a PostgreSQL database,
 * stopped as an orchestrator stops it, the private keys as the database
 * holds them, and the project's JWKS over HTTP. The requests themselves are
 * the upgrade test's (test/upgrade/_load.ts). Not a test file itself.
 */
import test, { type ExecutionContext } from "ava";
import Database from "better-sqlite3";
import { join } from "node:path";
import { request, startCluster } from "../gateway/_cluster.js";
import { tempDir } from "../helpers.js";
import { createDatabase, postgresSuite, query } from "../pg.js";
import { PREFIX, SERVER_ENV, type Target } from "../upgrade/_load.js";

/**
 * Registers a drill on a SQLite file and on a PostgreSQL database (skipped,
 * with a notice, without one), one after the other: a drill runs the `iam`
 * command synchronously, which would hold the other drill's requests
 * unanswered in this process meanwhile.
 */
export function onBothStores(title: string, drill: (t: ExecutionContext, db: string) => Promise<void>): void {
  test.serial(`sqlite: ${title}`, async (t) => {
    const { dir, cleanup } = tempDir();
    t.teardown(cleanup);
    await drill(t, join(dir, "iam.db"));
  });
  postgresSuite(`${title} (PostgreSQL)`, test.serial)(`postgres: ${title}`, async (t) => {
    const db = await createDatabase();
    t.teardown(() => db.drop());
    await drill(t, db.url);
  });
}

export interface Server {
  target: Target;
  grpc: number;
  /** SIGTERM, as an orchestrator stops it; answers the exit code. */
  stop(): Promise<number | null>;
  /** The whole process group killed at once (SIGKILL): a machine lost. */
  kill(): Promise<void>;
  output(): { stdout: string; stderr: string };
}

/** `iam start` (two workers) on `db`, named `name`, with `env` added. */
export async function server(t: ExecutionContext, db: string, name: string, env: Record<string, string> = {}): Promise<Server> {
  const started = startCluster({ ...SERVER_ENV, IAM_DB: db, ...env });
  t.teardown(started.kill);
  const ports = await started.up;
  return {
    target: { name, port: ports.http },
    grpc: ports.grpc,
    stop: async () => {
      process.kill(started.child.pid!, "SIGTERM");
      return started.exited;
    },
    kill: async () => {
      started.kill();
      await started.exited;
    },
    output: started.output,
  };
}

/** `iam start` on `db` that must not come up: its exit code and what it said. */
export async function refusedStart(t: ExecutionContext, db: string, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const started = startCluster({ ...SERVER_ENV, IAM_DB: db, ...env });
  t.teardown(started.kill);
  started.up.catch(() => {}); // it is not expected to come up
  const code = await started.exited;
  return { code, ...started.output() };
}

/** Every private signing key as the database stores it. */
export async function storedKeys(db: string): Promise<{ kid: string; private_jwk: string }[]> {
  const sql = "SELECT kid, private_jwk FROM signing_keys ORDER BY kid";
  if (db.startsWith("postgres")) return query<{ kid: string; private_jwk: string }>(db, sql);
  const file = new Database(db, { readonly: true });
  try {
    return file.prepare(sql).all() as { kid: string; private_jwk: string }[];
  } finally {
    file.close();
  }
}

/** The kids of the default project's JWKS, as a resource server fetches it. */
export async function jwksKids(at: Target): Promise<string[]> {
  const answer = await request(at.port, `${PREFIX}/.well-known/jwks.json`);
  if (answer.status !== 200) throw new Error(`JWKS at ${at.name}: ${answer.status}`);
  return (JSON.parse(answer.body) as { keys: { kid: string }[] }).keys.map((k) => k.kid).sort();
}

/**
 * Waits until every worker refuses `token` and publishes only `kids`: on
 * SQLite from its next request, on PostgreSQL once the change notification
 * has reached it (milliseconds; the test's timeout bounds the wait). Each
 * look asks twice of each, on fresh connections, which the two workers
 * answer in turn; two looks in a row must find it so.
 */
export async function retiredEverywhere(at: Target, token: string, client: { id: string; secret: string }, kids: string[]): Promise<void> {
  const published = [...kids].sort().join();
  const refused = async () => {
    const answers = [await active(at, token, client), await active(at, token, client), (await jwksKids(at)).join(), (await jwksKids(at)).join()];
    return answers[0] === false && answers[1] === false && answers[2] === published && answers[3] === published;
  };
  let inRow = 0;
  while (inRow < 2) inRow = (await refused()) ? inRow + 1 : 0;
}

/** Whether introspection at `at` says the token is active. */
export async function active(at: Target, token: string, client: { id: string; secret: string }): Promise<boolean> {
  const answer = await request(at.port, `${PREFIX}/introspect`, { form: { token }, basic: [client.id, client.secret] });
  if (answer.status !== 200) throw new Error(`introspection at ${at.name}: ${answer.status} ${answer.body}`);
  return (JSON.parse(answer.body) as { active: boolean }).active;
}
