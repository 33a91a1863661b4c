/**
 * SQLite that cannot be written, made so for real and then made writable
 * again, with the server running throughout: another process holding the
 * write lock past the busy timeout, and a full disk (a tiny tmpfs, where
 * this process may mount one). Each write meanwhile answers 503 with
 * Retry-After at the gateway and UNAVAILABLE over gRPC and leaves nothing
 * behind; readiness and gRPC health say NOT_SERVING; reads that need no
 * write keep working; once the fault is lifted a probe write brings
 * everything back, and the same requests succeed.
 */
import { execFileSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test, { type ExecutionContext } from "ava";
import Database from "better-sqlite3";
import { startTestServer, tempDir, type TestServer } from "../helpers.js";
import {
  adminToken,
  assertCreateUserUnavailable,
  assertNotServing,
  assertRecovered,
  assertTokenUnavailable,
  createUser,
  introspect,
  tokenRequest,
  until,
  watchHealth,
  writableGauge,
} from "./_support.js";

/** A server on the SQLite file at `dbPath`, closed at teardown; its admin token; a Watch of its health. */
async function serve(t: ExecutionContext, dbPath: string): Promise<{ s: TestServer; token: string; seen: ReturnType<typeof watchHealth> }> {
  const s = await startTestServer({ dbPath });
  t.teardown(() => s.close());
  const token = await adminToken(t, s);
  const seen = watchHealth(t, s);
  t.true(await until(() => seen.length === 1, 5000));
  t.is(await writableGauge(s), "1");
  return { s, token, seen };
}

/** While the fault lasts: writes refused as unavailable, health NOT_SERVING, reads answered, one log line. */
async function duringFault(t: ExecutionContext, s: TestServer, token: string, reason: RegExp): Promise<void> {
  await assertTokenUnavailable(t, s);
  await assertNotServing(t, s);
  t.is(await writableGauge(s), "0");
  await assertCreateUserUnavailable(t, s, token, "made-during-fault");
  // Reads that need no write: the JWK Set, and introspection of a token issued before.
  t.is((await fetch(`${s.project}/.well-known/jwks.json`)).status, 200);
  t.deepEqual(await introspect(s, token).then((r) => [r.status, r.body.active]), [200, true]);
  const faults = s.lines.filter((line) => line.includes("the database cannot be written"));
  t.is(faults.length, 1, "one log line when the fault begins");
  t.regex(faults[0]!, reason);
}

/** After the fault: SERVING again, and the same requests succeed (the refused one left nothing behind). */
async function afterFault(t: ExecutionContext, s: TestServer, token: string, seen: ReturnType<typeof watchHealth>): Promise<void> {
  await assertRecovered(t, s, seen);
  t.is(await writableGauge(s), "1");
  t.is(s.lines.filter((line) => line.includes("the database can be written again")).length, 1);
  t.is((await tokenRequest(s)).status, 200);
  t.is((await createUser(s, token, "made-during-fault")).user?.id, "made-during-fault", "the refused CreateUser, sent again, succeeds");
}

test("SQLite: another process holding the write lock past the busy timeout is a storage fault, until it lets go", async (t) => {
  t.timeout(120_000);
  const tmp = tempDir();
  t.teardown(() => tmp.cleanup());
  const dbPath = join(tmp.dir, "iam.db");
  const { s, token, seen } = await serve(t, dbPath);

  // An operator's sqlite3 shell left in a transaction, a hung process: the write lock, held.
  const other = new Database(dbPath);
  t.teardown(() => void (other.open && other.close()));
  other.exec("BEGIN IMMEDIATE");
  await duringFault(t, s, token, /"reason":"SQLITE_BUSY/);

  other.exec("ROLLBACK");
  other.close();
  await afterFault(t, s, token, seen);
});

/** Mounts a tmpfs of `size` at `dir`; false where this process may not (not root, no CAP_SYS_ADMIN). */
function mountTmpfs(dir: string, size: string): boolean {
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size},mode=0700`, "tmpfs", dir], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Fills the file system of `path` with a file there until it has no byte left. */
function fill(path: string): void {
  const fd = openSync(path, "w");
  try {
    for (const size of [1 << 16, 4096, 512, 1]) {
      const chunk = Buffer.alloc(size);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
      }
    }
  } finally {
    closeSync(fd);
  }
}

const mountPoint = mkdtempSync(join(tmpdir(), "iam-full-disk-"));
const canMount = mountTmpfs(mountPoint, "32m");
const fullDisk = canMount ? test : test.skip;
if (!canMount) rmSync(mountPoint, { recursive: true, force: true });

fullDisk(`SQLite: a full disk is a storage fault, until space is freed${canMount ? "" : " (skipped: this process may not mount a tmpfs)"}`, async (t) => {
  t.timeout(120_000);
  t.teardown(() => {
    execFileSync("umount", ["-l", mountPoint]);
    rmSync(mountPoint, { recursive: true, force: true });
  });
  const dbPath = join(mountPoint, "iam.db");
  const { s, token, seen } = await serve(t, dbPath);

  // The WAL emptied into the database file, and truncated: the next commit must grow it, and the disk is full.
  const other = new Database(dbPath);
  other.pragma("wal_checkpoint(TRUNCATE)");
  other.close();
  const filler = join(mountPoint, "filler");
  fill(filler);
  await duringFault(t, s, token, /"reason":"SQLITE_FULL"/);

  unlinkSync(filler);
  await afterFault(t, s, token, seen);
});
