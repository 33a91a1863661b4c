import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import test from "ava";
import { tempDir } from "../helpers.js";
import { slowRequest } from "./_cluster.js";

/** What `npm start` runs: the server compiled by `npm run build` (done by `npm test` first). */
const entry = fileURLToPath(new URL("../../dist/bin/iam.js", import.meta.url));

/** Runs `iam start` as `npm start` does, in its own process. */
function startProcess(env: Record<string, string>) {
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run npm run build (npm test runs it first)`);
  const child = spawn(process.execPath, ["--enable-source-maps", entry, "start"], {
    env: { ...process.env, IAM_LOG_LEVEL: "info", IAM_MANAGEMENT_PORT: "0", IAM_PASSWORD_HASH_MEMORY_KIB: "64", IAM_PASSWORD_HASH_ITERATIONS: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const up = new Promise<{ http: number; grpc: number }>((resolve, reject) => {
    const check = () => {
      const m = /gateway on port (\d+), core \(gRPC\) on port (\d+)/.exec(stdout);
      if (m) resolve({ http: Number(m[1]), grpc: Number(m[2]) });
    };
    child.stdout.on("data", check);
    void exited.then((code) => reject(new Error(`exited ${code}: ${stderr}`)));
  });
  return { child, up, exited, output: () => ({ stdout, stderr }) };
}

test("npm start on port 0 picks free ports, prints them and the sign-in URL, serves the flow, and stops cleanly on SIGTERM", async (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const db = join(dir, "nested", "iam.db");
  const p = startProcess({ IAM_DB: db, IAM_HTTP_PORT: "0", IAM_GRPC_PORT: "0" });
  t.teardown(() => p.child.kill("SIGKILL"));
  const ports = await p.up;
  t.not(ports.http, 0);
  t.not(ports.grpc, 0);

  const { stdout } = p.output();
  // The generated admin password is shown once on the terminal.
  const password = /password (\S+)/.exec(stdout)?.[1];
  t.truthy(password);
  const signIn = new RegExp(`http://localhost:${ports.http}/services/oauth2/iam-admins/iam-admins/authorize\\?\\S+`).exec(stdout)?.[0];
  t.truthy(signIn, "prints the sign-in URL with the chosen port");

  const page = await fetch(signIn!);
  t.is(page.status, 200);
  t.regex(await page.text(), /<form id="login-form" method="post"/);

  const context = await fetch(signIn!, { headers: { accept: "application/json" } });
  const { request_id } = (await context.json()) as { request_id: string };
  const login = await fetch(`http://127.0.0.1:${ports.http}/services/oauth2/iam-admins/iam-admins/authorize`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ request_id, username: "admin", password }),
  });
  t.is(login.status, 200, "the printed password signs in");

  p.child.kill("SIGTERM");
  t.is(await p.exited, 0);
  t.true(existsSync(db));
  // A clean close checkpoints the WAL and removes it.
  t.false(existsSync(`${db}-wal`));
  // The password never reaches the log (stderr).
  t.false(p.output().stderr.includes(password!));
});

test("an invalid setting stops start-up with a message naming the variable", async (t) => {
  const p = startProcess({ IAM_HTTP_PORT: "eighty" });
  await t.throwsAsync(p.up);
  t.is(await p.exited, 2);
  t.regex(p.output().stderr, /IAM_HTTP_PORT/);
});

test("SIGTERM stops accepting, lets a request in flight finish, cuts one that outlives IAM_SHUTDOWN_GRACE, and closes the database", async (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const db = join(dir, "iam.db");
  const p = startProcess({ IAM_DB: db, IAM_HTTP_PORT: "0", IAM_GRPC_PORT: "0", IAM_SHUTDOWN_GRACE: "2", IAM_ADMIN_PASSWORD: "pw" });
  t.teardown(() => p.child.kill("SIGKILL"));
  const ports = await p.up;
  const path = "/services/oauth2/iam-admins/iam-admins/token";
  const form = {
    "content-type": "application/x-www-form-urlencoded",
    authorization: `Basic ${Buffer.from("admin-client:top-secret").toString("base64")}`,
  };
  const finishing = slowRequest(ports.http, path, "grant_type=client_credentials", form);
  const stuck = slowRequest(ports.http, path, "grant_type=client_credentials", form);
  await new Promise((r) => setTimeout(r, 300));

  p.child.kill("SIGTERM");
  await new Promise((r) => setTimeout(r, 300));
  // No new connection is accepted on either port.
  await t.throwsAsync(fetch(`http://127.0.0.1:${ports.http}/healthz`));
  await t.throwsAsync(fetch(`http://127.0.0.1:${ports.grpc}/metrics`));
  // The request in flight completes with its tokens.
  finishing.finish();
  const done = await finishing.answer;
  t.false(done instanceof Error, String(done));
  if (!(done instanceof Error)) {
    t.is(done.status, 200, done.body);
    t.is((JSON.parse(done.body) as { token_type: string }).token_type, "Bearer");
  }
  // The one that never finishes is cut when the grace period ends, and the process exits cleanly.
  t.is(await p.exited, 0);
  t.true((await stuck.answer) instanceof Error);
  t.false(existsSync(`${db}-wal`), "the database was closed");
  t.regex(p.output().stderr, /"msg":"draining"/);
  t.regex(p.output().stderr, /"msg":"stopped"/);
});

test("iam config prints the effective configuration, one option per line, with secrets masked", async (t) => {
  const child = spawn(process.execPath, ["--import", "tsx", entry, "config"], {
    env: { ...process.env, IAM_ADMIN_PASSWORD: "pw-not-to-print", IAM_ADMIN_CLIENT_SECRET: "secret-not-to-print", IAM_HTTP_PORT: "9191" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  child.stdout.on("data", (d) => (stdout += d));
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  t.is(code, 0);
  t.regex(stdout, /^IAM_HTTP_PORT=9191  # /m);
  t.regex(stdout, /^IAM_ADMIN_PASSWORD=\*{8}  # /m);
  t.regex(stdout, /^IAM_ADMIN_CLIENT_SECRET=\*{8}  # /m);
  t.regex(stdout, /^IAM_METRICS=true  # /m);
  t.regex(stdout, /^IAM_SHUTDOWN_GRACE=10  # /m);
  t.false(stdout.includes("not-to-print"));
});
