/**
 * The server of client-oauth4webapi-fapi2.test.ts: `iam start` with two
 * worker processes (test/gateway/_cluster.ts), a FAPI 2.0 client and a user
 * registered by the `iam` command while it runs, as an operator would, and
 * requests on connections of their own, whose worker the log names. Not a
 * test file itself.
 */
import { spawn } from "node:child_process";
import type http from "node:http";
import { clientKey, jwksOf, type ClientKey } from "../client-auth/_assertion.js";
import { request, startCluster } from "../gateway/_cluster.js";
import { ALICE } from "../gateway/_par.js";
import { compiledIam } from "../helpers.js";

export const ORGANIZATION = "acme";
export const PROJECT = "bank";
/** The permission alice holds, by a role. */
export const READ = "accounts.balance.read";
/** The FAPI 2.0 client: confidential, private_key_jwt with a PS256 key, ES256 ID tokens. */
export const BANK = { id: "bank-app", redirectUri: "https://bank-app.example/callback" };

export interface Answer {
  status: number;
  body: Record<string, unknown>;
  headers: http.IncomingHttpHeaders;
  /** The X-Request-Id it was sent with, which the log line of the worker that served it carries. */
  requestId: string;
}

export interface Fapi2Server {
  issuer: string;
  /** The client's private key, whose public half it registered. */
  key: ClientKey;
  /** What each `iam` command of the registration printed. */
  registered: string[];
  /** POST `path` of the issuer, a form, on a connection of its own: the next worker in turn answers it. */
  post(path: string, form: Record<string, string>, headers?: Record<string, string>): Promise<Answer>;
  /** The worker (0 or 1) that served the request, from its log line. */
  workerOf(requestId: string): Promise<number>;
  stop(): Promise<void>;
}

let sent = 0;

/** Starts the server with `env` (IAM_DB: a PostgreSQL database, or none for a file of its own), then registers the client and the user. */
export async function startFapi2Server(env: Record<string, string>): Promise<Fapi2Server> {
  // Built first when its sources changed, as the `iam` command below is.
  compiledIam();
  const c = startCluster(env);
  const stop = async () => {
    c.kill();
    await c.exited;
  };
  let port: number;
  try {
    ({ http: port } = await c.up);
  } catch (err) {
    await stop();
    throw err;
  }
  // The default base URL: the issuer oauth4webapi discovers is under it.
  const baseUrl = `http://localhost:${port}`;
  const issuer = `${baseUrl}/services/oauth2/${ORGANIZATION}/${PROJECT}`;
  const key = await clientKey("PS256", "bank-app-key-1");
  let registered: string[];
  try {
    registered = await register(c.db, baseUrl, key);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    issuer,
    key,
    registered,
    async post(path, form, headers = {}) {
      const requestId = `fapi2-${process.pid}-${++sent}`;
      const answer = await request(port, new URL(`${issuer}${path}`).pathname, { form, headers: { "x-request-id": requestId, ...headers } });
      return { status: answer.status, body: JSON.parse(answer.body) as Record<string, unknown>, headers: answer.headers, requestId };
    },
    async workerOf(requestId) {
      // A worker writes its log lines at the end of a turn of its event loop: the answer may come first.
      for (let waited = 0; waited < 10_000; waited += 20) {
        const line = c.lines().find((l) => l.msg === "http" && l.request_id === requestId);
        if (line !== undefined) return line.worker as number;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      throw new Error(`no log line of request ${requestId}`);
    },
    stop,
  };
}

/**
 * The project, the FAPI 2.0 client, the permission, a role holding it and
 * alice holding the role, by `iam` on the server's database; commands that
 * do not depend on each other at once. Answers what each printed.
 */
async function register(db: string, baseUrl: string, key: ClientKey): Promise<string[]> {
  const chain = [ORGANIZATION, PROJECT];
  const client = [
    ...["client", "create", ...chain, BANK.id, "--auth-method", "private_key_jwt", "--jwks", jwksOf(key), "--profile", "fapi2", "--id-token-alg", "ES256"],
    ...["--redirect-uri", BANK.redirectUri, "--grant", "authorization_code", "--grant", "refresh_token"],
  ];
  const steps = [
    [["org", "create", ORGANIZATION]],
    [["project", "create", ...chain]],
    [client, ["permission", "create", ...chain, READ, "--description", "reads account balances"], ["user", "create", ...chain, ALICE.id, "--password-stdin", "--email", "alice@bank.example"]],
    [["role", "create", ...chain, "account-holder", "--permission", READ]],
    [["role", "assign", ...chain, "account-holder", "--user", ALICE.id]],
  ];
  const printed: string[] = [];
  for (const step of steps) printed.push(...(await Promise.all(step.map((args) => iam(db, baseUrl, args, args.includes("--password-stdin") ? `${ALICE.password}\n` : "")))));
  return printed;
}

/** Runs `iam` as an operator would, beside the running server, with its settings; answers what it printed. */
function iam(db: string, baseUrl: string, args: string[], input: string): Promise<string> {
  const child = spawn(process.execPath, [compiledIam(), ...args], {
    env: { ...process.env, IAM_DB: db, IAM_BASE_URL: baseUrl, IAM_PASSWORD_HASH_MEMORY_KIB: "64", IAM_PASSWORD_HASH_ITERATIONS: "1" },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  child.stdin.end(input);
  return new Promise((resolve, reject) =>
    child.on("close", (code) => (code === 0 ? resolve(stdout.trim()) : reject(new Error(`iam ${args.slice(0, 2).join(" ")} exited ${code}: ${stderr}`)))),
  );
}
