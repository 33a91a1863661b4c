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
import test from "ava";
import Database from "better-sqlite3";
import { startTestServer, tempDir } from "../helpers.js";
import { afterFault, duringFault, watched } from "./_support.js";

test("SQLite: another process holding the write lock past the busy timeout is a storage fault, until it lets go", async (t) => {
  t.timeout(120_000);
  const tmp = tempDir();
  t.teardown(() => tmp.cleanup());
  const dbPath = join(tmp.dir, "iam.db");
  const { s, token, seen } = await watched(t, await startTestServer({ dbPath }));

  // An operator's sqlite3 shell left in a transaction, a hung process: the write lock, held.
  const other = new Database(dbPath);
  t.teardown(() => void (other.open && other.close()));
  other.exec("BEGIN IMMEDIATE");
  await duringFault(t, s, token, { reason: /"reason":"SQLITE_BUSY/, reads: "answered" });

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
// Skipped where no tmpfs can be mounted, but never in CI (IAM_TEST_STRICT), where it must run.
const strict = process.env.IAM_TEST_STRICT === "1";
const fullDisk = canMount || strict ? test : test.skip;
if (!canMount) rmSync(mountPoint, { recursive: true, force: true });

fullDisk(`SQLite: a full disk is a storage fault, until space is freed${canMount ? "" : " (skipped: this process may not mount a tmpfs)"}`, async (t) => {
  t.timeout(120_000);
  if (!canMount) return t.fail(`IAM_TEST_STRICT: a tmpfs cannot be mounted at ${mountPoint} (root or CAP_SYS_ADMIN is needed), so a full disk cannot be made`);
  t.teardown(() => {
    execFileSync("umount", ["-l", mountPoint]);
    rmSync(mountPoint, { recursive: true, force: true });
  });
  const dbPath = join(mountPoint, "iam.db");
  const { s, token, seen } = await watched(t, await startTestServer({ dbPath }));

  // The WAL emptied into the database file, and truncated: the next commit must grow it, and the disk is full.
  const other = new Database(dbPath);
  other.pragma("wal_checkpoint(TRUNCATE)");
  other.close();
  const filler = join(mountPoint, "filler");
  fill(filler);
  await duringFault(t, s, token, { reason: /"reason":"SQLITE_FULL"/, reads: "answered" });

  unlinkSync(filler);
  await afterFault(t, s, token, seen);
});
