#!/usr/bin/env node
/**
 * Compiles the server (bin, core, gateway, gen, client, wire) from TypeScript to
 * JavaScript in dist/, one file for each, with source maps. `npm start` runs
 * the result: no TypeScript loader in the running process (it would hold
 * about 100 MB more and slow every start). Type checking is `npm run
 * typecheck`; this only strips types, in well under a second.
 *
 * Several starts may run this at once in one checkout (`npm run core` beside
 * `npm run gateway`, two `npm start`s, test files), so dist/ is never written
 * in place: a build goes to a fresh folder beside it and is renamed into
 * place, one build at a time (dist.lock names the process building). A build
 * is skipped when dist/ was made from the same sources: dist/.build-stamp
 * holds a hash of every source's path and content and of this script. Once
 * this script has returned, dist/ is whole and stays so until the sources
 * change.
 */
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build, version as esbuildVersion } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
const SOURCES = ["bin", "core", "gateway", "gen", "client", "wire"];
/** The administration console's browser sources: bundled, with what they import, into dist/console/. */
const CONSOLE = join(root, "console");
const dist = join(root, "dist");
const STAMP = ".build-stamp";
const lock = join(root, "dist.lock");
/** How long a build waits for another one before it gives up and says which process holds the lock. */
const LOCK_WAIT_MS = 120_000;

function* files(dir, wanted) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path, wanted);
    else if (wanted(entry.name)) yield path;
  }
}

const typescript = (dir) => files(dir, (name) => name.endsWith(".ts") && !name.endsWith(".d.ts"));

/**
 * The console, for the browser: one script (Preact and the Connect client
 * with it, minified) and one style sheet. The gateway serves both by their
 * exact URLs (gateway/console/shell.ts).
 */
function buildConsole(outdir) {
  const common = { bundle: true, minify: true, outdir: join(outdir, "console"), logLevel: "warning", legalComments: "none" };
  return Promise.all([
    build({
      ...common,
      entryPoints: { console: join(CONSOLE, "main.tsx") },
      format: "esm",
      platform: "browser",
      target: ["chrome111", "firefox111", "safari16.4"],
      jsx: "automatic",
      jsxImportSource: "preact",
    }),
    build({ ...common, entryPoints: { console: join(CONSOLE, "style.css") } }),
  ]);
}

/** What dist/ is made from: every source's path and content, this script and the compiler's version. */
function stampOf(entryPoints) {
  const hash = createHash("sha256").update(`esbuild ${esbuildVersion}\0`).update(readFileSync(fileURLToPath(import.meta.url)));
  for (const path of [...entryPoints].sort()) hash.update(`\0${relative(root, path)}\0`).update(readFileSync(path));
  return hash.digest("hex");
}

function upToDate(stamp) {
  try {
    return readFileSync(join(dist, STAMP), "utf8") === stamp;
  } catch {
    return false;
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === "EPERM";
  }
}

/**
 * Takes dist.lock (created exclusively, holding this process's id). A lock
 * whose process is gone, or that stayed empty for a minute, is left over
 * from a build that was killed: it is removed and taken.
 */
async function acquireLock() {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      writeFileSync(lock, String(process.pid), { flag: "wx" });
      return;
    } catch (err) {
      if (err.code !== "EEXIST") throw err;
    }
    let owner;
    let age;
    try {
      owner = Number.parseInt(readFileSync(lock, "utf8"), 10);
      age = Date.now() - statSync(lock).mtimeMs;
    } catch {
      continue; // released meanwhile
    }
    if (Number.isInteger(owner) ? !alive(owner) : age > 60_000) {
      rmSync(lock, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new Error(`another build (process ${owner}) has held ${relative(process.cwd(), lock)} for over ${LOCK_WAIT_MS / 1000} s`);
    }
    await sleep(50);
  }
}

const entryPoints = SOURCES.flatMap((dir) => [...typescript(join(root, dir))]);
// The console's bundle also holds the generated messages (gen/) and what it imports from node_modules (the lock file).
const stamp = stampOf([...entryPoints, ...files(CONSOLE, () => true), join(root, "package-lock.json")]);
const where = relative(process.cwd(), dist) || ".";
if (upToDate(stamp)) {
  if (process.argv.includes("--verbose")) console.log(`${where}/ is up to date`);
  process.exit(0);
}

await acquireLock();
try {
  // Another build may have made the same dist/ while this one waited.
  if (upToDate(stamp)) {
    if (process.argv.includes("--verbose")) console.log(`${where}/ is up to date`);
  } else {
    const fresh = mkdtempSync(join(root, "dist.building-"));
    try {
      // mkdtemp makes a folder only its owner may read; dist/ is an ordinary one.
      chmodSync(fresh, 0o777 & ~process.umask());
      await build({
        entryPoints,
        outdir: fresh,
        outbase: root,
        format: "esm",
        platform: "node",
        target: "node20",
        sourcemap: true,
        logLevel: "warning",
      });
      await buildConsole(fresh);
      writeFileSync(join(fresh, STAMP), stamp);
      // dist/ is missing only between the two renames, while the lock is held:
      // a start waits for the lock before it runs dist/, or found dist/ up to date.
      if (existsSync(dist)) {
        const old = fresh.replace("dist.building-", "dist.old-");
        renameSync(dist, old);
        renameSync(fresh, dist);
        rmSync(old, { recursive: true, force: true });
      } else {
        renameSync(fresh, dist);
      }
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
    if (process.argv.includes("--verbose")) console.log(`built ${entryPoints.length} files into ${where}/`);
  }
} finally {
  rmSync(lock, { force: true });
}
