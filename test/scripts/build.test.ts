/**
 * Starts that share a checkout: `npm start`, `npm run core` and `npm run
 * gateway` each run scripts/build.mjs and then dist/bin/iam.js, so two of
 * them started at once (the two-process topology, or two servers on separate
 * databases) must not break each other's dist/. Each test works on a copy of
 * the sources with node_modules linked, so the checkout's own dist/ is left
 * alone.
 */
import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import test, { type ExecutionContext } from "ava";
import { tempDir } from "../helpers.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
/** What a copy leaves out: the tests, the docs and everything built or installed. */
const NOT_COPIED = new Set([".git", "node_modules", "dist", "test", "test-results", "docs", "bench", "data", ".scratch"]);

/** A copy of the checkout's sources, node_modules linked, without dist/. */
function checkout(t: ExecutionContext): string {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  for (const entry of readdirSync(root)) {
    if (NOT_COPIED.has(entry) || entry.startsWith("dist.")) continue;
    cpSync(join(root, entry), join(dir, entry), { recursive: true });
  }
  symlinkSync(join(root, "node_modules"), join(dir, "node_modules"));
  return dir;
}

const build = (dir: string) => spawnSync(process.execPath, ["scripts/build.mjs"], { cwd: dir, encoding: "utf8" });

/** What building leaves beside dist/ (a lock, a folder being written or replaced): nothing once every build has returned. */
const leftovers = (dir: string) => readdirSync(dir).filter((entry) => entry.startsWith("dist."));

interface Started {
  ports: Promise<{ http: number }>;
  stop(): Promise<number | null>;
}

/** Runs package.json's `start` script in `dir` as npm does (a shell), on a database of its own and free ports. */
function npmStart(dir: string, db: string): Started {
  const script = (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { scripts: { start: string } }).scripts.start;
  const child = spawn("sh", ["-c", script], {
    cwd: dir,
    env: {
      ...process.env,
      IAM_DB: db,
      IAM_HTTP_PORT: "0",
      IAM_GRPC_PORT: "0",
      IAM_MANAGEMENT_PORT: "0",
      IAM_WORKERS: "1",
      IAM_ADMIN_PASSWORD: "build-test-admin-password",
      IAM_PASSWORD_HASH_MEMORY_KIB: "64",
      IAM_PASSWORD_HASH_ITERATIONS: "1",
      IAM_LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "pipe", "pipe"],
    // Its own process group: stopping it stops the shell and the server under it.
    detached: true,
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  const ports = new Promise<{ http: number }>((resolve, reject) => {
    child.stdout.on("data", () => {
      const m = /gateway on port (\d+)/.exec(stdout);
      if (m) resolve({ http: Number(m[1]) });
    });
    void exited.then((code) => reject(new Error(`npm start exited (${code}) before it was up: ${stderr}`)));
  });
  ports.catch(() => {});
  return {
    ports,
    stop() {
      try {
        process.kill(-child.pid!, "SIGTERM");
      } catch {
        // already gone
      }
      return exited;
    },
  };
}

test("two npm starts at once in a checkout without dist/ both build, come up and answer", async (t) => {
  t.timeout(120_000);
  const dir = checkout(t);
  const data = join(dir, "data");
  mkdirSync(data);
  for (let round = 0; round < 3; round++) {
    rmSync(join(dir, "dist"), { recursive: true, force: true });
    const starts = [npmStart(dir, join(data, `a${round}.db`)), npmStart(dir, join(data, `b${round}.db`))];
    t.teardown(() => Promise.all(starts.map((s) => s.stop())).then(() => {}));
    const outcomes = await Promise.allSettled(starts.map((s) => s.ports));
    t.deepEqual(
      outcomes.map((o) => (o.status === "fulfilled" ? "up" : String(o.reason))),
      ["up", "up"],
      `round ${round}: both servers came up`,
    );
    for (const [i, o] of outcomes.entries()) {
      if (o.status !== "fulfilled") continue;
      const res = await fetch(`http://127.0.0.1:${o.value.http}/healthz`);
      t.is(res.status, 200, `round ${round}: server ${i} answers /healthz`);
    }
    await Promise.all(starts.map((s) => s.stop()));
    t.deepEqual(leftovers(dir), [], `round ${round}: nothing is left beside dist/`);
  }
});

test("a build is skipped while the sources are unchanged and made again when one changes; builds at once leave one whole dist/", async (t) => {
  t.timeout(120_000);
  const dir = checkout(t);
  const dist = join(dir, "dist");
  t.is(build(dir).status, 0);
  const first = statSync(dist).ino;
  t.is(build(dir).status, 0);
  t.is(statSync(dist).ino, first, "an up-to-date dist/ is not rewritten");

  // A change to a source: the next builds (several at once) make a new dist/ that holds it.
  writeFileSync(join(dir, "bin", "admin-usage.ts"), `${readFileSync(join(dir, "bin", "admin-usage.ts"), "utf8")}\nexport const BUILD_PROBE = "changed";\n`);
  const builds = Array.from({ length: 4 }, () =>
    new Promise<number | null>((resolve) => spawn(process.execPath, ["scripts/build.mjs"], { cwd: dir, stdio: "ignore" }).on("close", resolve)),
  );
  t.deepEqual(await Promise.all(builds), [0, 0, 0, 0], "every build succeeds");
  t.not(statSync(dist).ino, first, "a changed source makes a new dist/");
  t.true(readFileSync(join(dist, "bin", "admin-usage.js"), "utf8").includes("BUILD_PROBE"));
  t.true(existsSync(join(dist, "bin", "iam.js")));
  t.deepEqual(leftovers(dir), [], "no lock or half-written folder is left beside dist/");
  const help = spawnSync(process.execPath, [join(dist, "bin", "iam.js"), "--help"], { encoding: "utf8" });
  t.is(help.status, 0, help.stderr);
  t.regex(help.stdout, /^usage: iam /);
});

test("a build killed while it held the lock does not stop the next one", async (t) => {
  const dir = checkout(t);
  // The lock of a process that no longer exists (a build killed in the middle).
  const gone = spawnSync(process.execPath, ["-e", "console.log(process.pid)"], { encoding: "utf8" }).stdout.trim();
  writeFileSync(join(dir, "dist.lock"), gone);
  const result = build(dir);
  t.is(result.status, 0, result.stderr);
  t.true(existsSync(join(dir, "dist", "bin", "iam.js")));
  t.deepEqual(leftovers(dir), []);
});
