/**
 * What the store-copy tests share: the `iam` command and the server as
 * `npm start` runs them (compiled, in processes of their own), and the OAuth
 * calls a client makes over HTTP. Not a test file itself.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import Database from "better-sqlite3";
import { compiledIam, pkcePair } from "../helpers.js";
import { query as pgQuery } from "../pg.js";

export const BASE_URL = "http://iam.store-copy.test";
export const PROJECT_PATH = "/services/oauth2/iam-admins/iam-admins";
export const ADMIN_PASSWORD = "store-copy-admin-password";
export const ADMIN_SECRET = "store-copy-admin-secret-0123456789";
export const SCOPE = "iam.global.admin";
/** The app whose consent is remembered: a consent row to move. */
export const APP = { id: "app", secret: "app-secret-0123456789abcdef", redirect: "https://app.test/cb" };

/** One key-encryption key for a whole test file: the moved keys stay sealed under it. */
export const KEK = randomBytes(32).toString("base64");

const ENV = {
  IAM_BASE_URL: BASE_URL,
  IAM_ADMIN_PASSWORD: ADMIN_PASSWORD,
  IAM_ADMIN_CLIENT_SECRET: ADMIN_SECRET,
  IAM_KEY_ENCRYPTION_KEY: KEK,
  IAM_PASSWORD_HASH_MEMORY_KIB: "64",
  IAM_PASSWORD_HASH_ITERATIONS: "1",
  IAM_TOKEN_RATE_PER_CLIENT: "0",
  // A rotated refresh token is refused whenever it comes back (no grace window).
  IAM_REFRESH_TOKEN_GRACE: "0",
  // Servers of several tests run at once: each management listener on a free port.
  IAM_MANAGEMENT_PORT: "0",
};

/** Runs `iam` on `db` as a user would. */
export function iam(db: string, args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [compiledIam(), ...args], { env: { ...process.env, ...ENV, IAM_DB: db, ...env }, encoding: "utf8" });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The same, without waiting: for a backup taken while requests run in this process. */
export function iamAsync(db: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [compiledIam(), ...args], { env: { ...process.env, ...ENV, IAM_DB: db }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
}

/**
 * `iam backup` of `db` into `file` while a client keeps requesting tokens
 * from the server at `url`: the command's answer, the requests that failed,
 * and how many succeeded while it ran.
 */
export async function backupWhileWriting(db: string, url: string, file: string) {
  let writing = true;
  let issued = 0;
  const failures: string[] = [];
  const writer = (async () => {
    while (writing) {
      try {
        await clientCredentials(url);
        issued++;
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
  })();
  const waitFor = async (n: number) => {
    while (issued < n && failures.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  };
  await waitFor(20);
  const before = issued;
  const backup = await iamAsync(db, ["backup", file]);
  const issuedDuring = issued - before;
  await waitFor(issued + 20);
  writing = false;
  await writer;
  return { backup, failures, issuedDuring };
}

export interface Server {
  url: string;
  stop(): Promise<void>;
}

/** `iam start` (one process) on `db`, on ports it chooses. */
export async function startServer(db: string, env: Record<string, string> = {}): Promise<Server> {
  const server = await spawnServer(db, env);
  running.add(server);
  return { url: server.url, stop: () => (running.delete(server), server.stop()) };
}

/** Servers a failed test left running are stopped when its process ends. */
const running = new Set<Server>();
process.once("exit", () => {
  for (const server of running) void server.stop();
});

async function spawnServer(db: string, env: Record<string, string>): Promise<Server> {
  const child = spawn(process.execPath, [compiledIam(), "start"], {
    env: { ...process.env, ...ENV, IAM_DB: db, IAM_HTTP_PORT: "0", IAM_GRPC_PORT: "0", IAM_WORKERS: "1", IAM_LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.on("data", (d) => {
      stdout += d;
      const m = /gateway on port (\d+)/.exec(stdout);
      if (m) resolve(Number(m[1]));
    });
    void exited.then(() => reject(new Error(`the server exited: ${stderr}`)));
  });
  return {
    url: `http://127.0.0.1:${port}${PROJECT_PATH}`,
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64")}`;
export const ADMIN_AUTH = basic("admin-client", ADMIN_SECRET);
export const APP_AUTH = basic(APP.id, APP.secret);

export async function post(url: string, form: Record<string, string>, authorization?: string) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...(authorization === undefined ? {} : { authorization }) },
    body: new URLSearchParams(form),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

export interface Tokens {
  access_token: string;
  refresh_token: string;
  id_token: string;
}

/**
 * The authorization code flow of the JSON API for `APP` and the admin user,
 * with PKCE and `openid`: an access, refresh and ID token, a sign-in session,
 * and the remembered consent.
 */
export async function codeFlow(url: string, password = ADMIN_PASSWORD): Promise<Tokens> {
  const { verifier, challenge } = pkcePair(randomBytes(32).toString("base64url"));
  const params = new URLSearchParams({
    response_type: "code",
    client_id: APP.id,
    redirect_uri: APP.redirect,
    scope: `openid ${SCOPE}`,
    state: "s",
    nonce: "n",
    code_challenge: challenge,
    code_challenge_method: "S256",
  });
  const json = { accept: "application/json", "content-type": "application/json" };
  const context = (await (await fetch(`${url}/authorize?${params}`, { headers: json })).json()) as { request_id: string };
  const login = await fetch(`${url}/authorize`, { method: "POST", headers: json, body: JSON.stringify({ request_id: context.request_id, username: "admin", password }) });
  if (login.status !== 200) throw new Error(`sign-in answered ${login.status}`);
  // A remembered consent answers the redirect at sign-in.
  let { redirect_to } = (await login.json()) as { redirect_to?: string };
  if (redirect_to === undefined) {
    const consent = await fetch(`${url}/consent`, { method: "POST", headers: json, body: JSON.stringify({ request_id: context.request_id, scopes: ["openid", SCOPE] }) });
    ({ redirect_to } = (await consent.json()) as { redirect_to: string });
  }
  const code = new URL(redirect_to).searchParams.get("code")!;
  const answer = await post(`${url}/token`, { grant_type: "authorization_code", code, redirect_uri: APP.redirect, code_verifier: verifier }, APP_AUTH);
  if (answer.status !== 200) throw new Error(`token answered ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body as Tokens;
}

export async function clientCredentials(url: string): Promise<string> {
  const answer = await post(`${url}/token`, { grant_type: "client_credentials", scope: SCOPE }, ADMIN_AUTH);
  if (answer.status !== 200) throw new Error(`token answered ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body.access_token as string;
}

export const introspect = async (url: string, token: string) => (await post(`${url}/introspect`, { token }, ADMIN_AUTH)).body;
export const refresh = (url: string, refreshToken: string) => post(`${url}/token`, { grant_type: "refresh_token", refresh_token: refreshToken }, APP_AUTH);
export const revoke = (url: string, token: string) => post(`${url}/revoke`, { token }, APP_AUTH).catch(() => undefined);
export async function userinfo(url: string, accessToken: string): Promise<number> {
  return (await fetch(`${url}/userinfo`, { headers: { authorization: `Bearer ${accessToken}` } })).status;
}
export const jwks = async (url: string) => (await fetch(`${url}/.well-known/jwks.json`)).json();

/** A server on a new database (`db`) whose default tenant also has the app client. */
export async function startWithApp(db: string, env: Record<string, string> = {}): Promise<Server> {
  await (await startServer(db, env)).stop();
  seedApp(db);
  return startServer(db, env);
}

/** Makes the app client (remembered consent) in the database of a stopped server. */
export function seedApp(db: string): void {
  const made = iam(db, ["client", "create", "iam-admins", "iam-admins", APP.id, "--secret", APP.secret, "--redirect-uri", APP.redirect,
    "--grant", "authorization_code", "--grant", "refresh_token", "--remember-consent"]);
  if (made.code !== 0) throw new Error(made.stderr);
}

/** Every row of every table of a database, each table's rows sorted, booleans, numbers and lists as text: for comparing two databases. */
export async function dump(db: string): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  if (db.startsWith("postgres")) {
    const tables = await pgQuery<{ table_name: string }>(db, "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'");
    for (const { table_name } of tables) {
      if (table_name === "iam_schema") continue;
      const rows = await pgQuery(db, `SELECT * FROM "${table_name}"`);
      out[table_name] = rows.map((r) => canonical(r)).sort();
    }
  } else {
    const sqlite = new Database(db, { readonly: true });
    for (const name of sqlite.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT IN ('iam_schema', 'change_epoch')").pluck().all() as string[]) {
      out[name] = (sqlite.prepare(`SELECT * FROM "${name}"`).all() as Record<string, unknown>[]).map((r) => canonical(r)).sort();
    }
    sqlite.close();
  }
  return out;
}

/** A row as text, column order and backend types aside: booleans as 0/1, lists as JSON. */
function canonical(row: Record<string, unknown>): string {
  const entries = Object.entries(row)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => [k, typeof v === "boolean" ? String(Number(v)) : Array.isArray(v) ? JSON.stringify(v) : typeof v === "number" ? String(v) : v]);
  return JSON.stringify(entries);
}

export const digest = (value: unknown) => createHash("sha256").update(JSON.stringify(value)).digest("hex");
