/**
 * The server as `npm start` runs it with two worker processes (IAM_WORKERS),
 * and requests on connections of their own. Connections are handed to the
 * workers in turn, so a run of fresh connections reaches every worker; the
 * log names the worker of each line, which is how tests know who answered.
 * Not a test file itself.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import http from "node:http";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { tempDir } from "../helpers.js";

export const entry = fileURLToPath(new URL("../../dist/bin/iam.js", import.meta.url));
export const ADMIN = { id: "admin-client", secret: "cluster-admin-secret-0123456789" };

/**
 * `iam start` (or `command`) with two workers on a database file of its own,
 * on ports it chooses (`up` answers them, 0 for one it does not serve), the
 * default tenant's administrator set; `env` overrides any of it, IAM_DB
 * included (a PostgreSQL database, say); `bin` runs another build of the
 * `iam` command (another release's).
 */
export function startCluster(env: Record<string, string>, nodeFlags: string[] = [], command: "start" | "core" | "gateway" = "start", bin = entry) {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run npm run build (npm test runs it first)`);
  const { dir, cleanup } = tempDir();
  const db = env.IAM_DB ?? join(dir, "iam.db");
  const child = spawn(process.execPath, [...nodeFlags, "--enable-source-maps", bin, command], {
    env: {
      ...process.env,
      IAM_DB: db,
      IAM_HTTP_PORT: "0",
      IAM_GRPC_PORT: "0",
      IAM_MANAGEMENT_PORT: "0",
      IAM_WORKERS: "2",
      IAM_LOG_LEVEL: "info",
      IAM_ADMIN_PASSWORD: "cluster-admin-password",
      IAM_ADMIN_CLIENT_SECRET: ADMIN.secret,
      IAM_PASSWORD_HASH_MEMORY_KIB: "64",
      IAM_PASSWORD_HASH_ITERATIONS: "1",
      IAM_TOKEN_RATE_PER_CLIENT: "0",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
    // Its own process group: a terminal's Ctrl-C reaches every process of it.
    detached: true,
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  // "close": the process has exited and its output has all been read.
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  const up = new Promise<{ http: number; grpc: number; management: number }>((resolve, reject) => {
    child.stdout.on("data", () => {
      // The line that says so, whole: "iam-core is up: gateway on port …", "iam-core gateway is up on port …".
      const line = /^.*is up.*\n/m.exec(stdout)?.[0];
      if (line === undefined) return;
      const port = (pattern: RegExp) => Number(pattern.exec(line)?.[1] ?? 0);
      resolve({ http: port(/gateway (?:is up )?on port (\d+)/), grpc: port(/core \(gRPC\) on port (\d+)/), management: port(/management on port (\d+)/) });
    });
    void exited.then((code) => reject(new Error(`exited ${code}: ${stderr}`)));
  });
  const kill = () => {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // gone
    }
    cleanup();
  };
  /** The worker processes: the primary's children. */
  const workers = () =>
    readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, "utf8").split(" ").filter(Boolean).map(Number);
  /** The log lines so far, parsed. */
  const lines = () =>
    stderr
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { child, db, up, exited, kill, workers, lines, output: () => ({ stdout, stderr }) };
}

/** One request on a connection of its own: the next worker in turn answers it. */
export function request(
  port: number,
  path: string,
  options: {
    method?: string;
    form?: Record<string, string>;
    json?: unknown;
    basic?: [string, string];
    agent?: http.Agent;
    headers?: Record<string, string>;
    host?: string;
  } = {},
): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  const body =
    options.json !== undefined ? JSON.stringify(options.json) : options.form === undefined ? undefined : new URLSearchParams(options.form).toString();
  const type = options.json !== undefined ? "application/json" : "application/x-www-form-urlencoded";
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: options.host ?? "127.0.0.1",
        port,
        path,
        method: options.method ?? (body === undefined ? "GET" : "POST"),
        agent: options.agent ?? false,
        headers: {
          ...(body === undefined ? {} : { "content-type": type }),
          ...(options.basic === undefined
            ? {}
            : { authorization: `Basic ${Buffer.from(options.basic.map(encodeURIComponent).join(":")).toString("base64")}` }),
          ...options.headers,
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d) => (text += d));
        res.on("end", () => resolve({ status: res.statusCode!, body: text, headers: res.headers }));
      },
    );
    req.on("error", reject);
    // No request of these tests may hang the run: 10 s is a failure.
    req.setTimeout(10_000, () => req.destroy(new Error(`${path}: no answer in 10 s`)));
    req.end(body);
  });
}

/** Sends a request's head and the first half of its body now; `finish()` sends the rest. */
export function slowRequest(port: number, path: string, body: string, headers: Record<string, string>) {
  const req = http.request({ host: "127.0.0.1", port, path, method: "POST", headers: { ...headers, "content-length": String(body.length) } });
  const answer = new Promise<{ status: number; body: string } | Error>((resolve) => {
    req.on("response", (res) => {
      let text = "";
      res.on("data", (d: Buffer) => (text += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on("error", (err) => resolve(err));
    });
    req.on("error", (err) => resolve(err));
  });
  req.write(body.slice(0, body.length / 2));
  return { answer, finish: () => req.end(body.slice(body.length / 2)) };
}

/** The workers that logged a line about `path` (the gateway logs every request). */
export const workersThatServed = (lines: Record<string, unknown>[], path: string) =>
  [...new Set(lines.filter((l) => l.msg === "http" && l.path === path).map((l) => l.worker))].sort();
