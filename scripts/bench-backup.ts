/**
 * How long `iam backup` takes on a SQLite database of 100,000 grants and
 * 100,000 refresh tokens, and the longest a concurrent writer waits for one
 * commit meanwhile (synchronous=FULL, as the server writes). Three runs,
 * medians printed. Run: node scripts/build.mjs && node --import tsx scripts/bench-backup.ts [rows]
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../core/store/sqlite/store.js";

const ROWS = Number(process.argv[2] ?? 100_000);
const RUNS = 3;
const iam = new URL("../dist/bin/iam.js", import.meta.url).pathname;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;

function seed(path: string): void {
  const db = openDatabase(path);
  const grant = db.prepare(
    "INSERT INTO grants (id, organization_id, project_id, client_id, kind, user_id, scopes, auth_time, created_at, expires_at) VALUES (?, 'org', 'proj', 'client', 'user', 'alice', '[\"openid\",\"profile\"]', 1, 1, 9999999999)",
  );
  const refresh = db.prepare("INSERT INTO refresh_tokens (token_hash, grant_id, client_id, scopes, created_at, expires_at, parent_hash) VALUES (?, ?, 'client', '[\"openid\"]', 1, 9999999999, '')");
  db.transaction(() => {
    for (let i = 0; i < ROWS; i++) {
      const id = randomBytes(16).toString("hex");
      grant.run(id);
      refresh.run(randomBytes(32).toString("base64url"), id);
    }
  })();
  db.close();
}

/** Commits one row at a time until `done()`: how many, and the longest one took. */
async function write(path: string, done: () => boolean): Promise<{ pauseMs: number; writes: number }> {
  const writer = openDatabase(path);
  const insert = writer.prepare("INSERT INTO dpop_proofs (proof_hash, expires_at) VALUES (?, 1)");
  let pauseMs = 0;
  let writes = 0;
  while (!done()) {
    const t0 = performance.now();
    insert.run(randomBytes(16).toString("hex"));
    pauseMs = Math.max(pauseMs, performance.now() - t0);
    writes++;
    await new Promise((resolve) => setImmediate(resolve));
  }
  writer.close();
  return { pauseMs, writes };
}

async function run(dir: string, n: number): Promise<{ seconds: number; pauseMs: number; writes: number; bytes: string; alonePauseMs: number }> {
  const path = join(dir, "bench.db");
  const started = performance.now();
  const child = spawn(process.execPath, [iam, "backup", join(dir, `bench-${n}.backup`)], { env: { ...process.env, IAM_DB: path }, stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  let done = false;
  child.on("close", () => (done = true));
  const during = await write(path, () => done);
  const seconds = (performance.now() - started) / 1000;
  // The same writer for as long with no backup: what the machine gives it anyway.
  const until = performance.now() + seconds * 1000;
  const alone = await write(path, () => performance.now() > until);
  return { seconds, ...during, bytes: /(\d+) bytes/.exec(out)?.[1] ?? "?", alonePauseMs: alone.pauseMs };
}

const dir = mkdtempSync(join(tmpdir(), "iam-bench-backup-"));
try {
  seed(join(dir, "bench.db"));
  const results = [];
  for (let n = 0; n < RUNS; n++) {
    const r = await run(dir, n);
    console.log(`run ${n + 1}: backup ${r.seconds.toFixed(2)} s, ${r.bytes} bytes; concurrent writer: ${r.writes} commits, longest ${r.pauseMs.toFixed(1)} ms; the writer alone as long: longest ${r.alonePauseMs.toFixed(1)} ms`);
    results.push(r);
  }
  console.log(`load average ${loadavg().map((l) => l.toFixed(1)).join(" ")} on ${cpus().length} cores`);
  console.log(`median of ${RUNS}: backup ${median(results.map((r) => r.seconds)).toFixed(2)} s, longest writer commit ${median(results.map((r) => r.pauseMs)).toFixed(1)} ms, alone ${median(results.map((r) => r.alonePauseMs)).toFixed(1)} ms (${ROWS} grants and ${ROWS} refresh tokens)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
