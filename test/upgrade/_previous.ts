/**
 * The previous release's server, built from this repository's history: the
 * commit test/upgrade/previous-release.json names, taken with `git archive`,
 * node_modules linked, built by its own scripts/build.mjs. Kept in the
 * temporary folder under the commit's name, so a second test file (or run)
 * finds it built. Without git or without the commit (a shallow clone, an
 * exported tree) this fails, saying why: an upgrade that was not tested is
 * not skipped in silence. Not a test file itself.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, realpathSync, renameSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));

export interface PreviousRelease {
  version: string;
  commit: string;
  schema: { sqlite: number; postgres: number };
  /** Its compiled `iam` command, dist/bin/iam.js. */
  entry: string;
}

/** What test/upgrade/previous-release.json records of the release before this one. */
export function previousRelease(): Omit<PreviousRelease, "entry"> {
  return JSON.parse(readFileSync(new URL("previous-release.json", import.meta.url), "utf8")) as Omit<PreviousRelease, "entry">;
}

function run(command: string, args: string[], cwd = root): { ok: boolean; output: string } {
  const result = spawnSync(command, args, { cwd, encoding: "utf8" });
  return { ok: result.status === 0, output: `${result.error?.message ?? ""}${result.stdout ?? ""}${result.stderr ?? ""}`.trim() };
}

/** Builds the previous release once (a folder per commit in the temporary folder) and answers its `iam` command. */
export function buildPreviousRelease(): PreviousRelease {
  const release = previousRelease();
  const { commit } = release;
  const folder = join(tmpdir(), `iam-core-release-${commit}`);
  const entry = join(folder, "dist", "bin", "iam.js");
  if (existsSync(entry)) return { ...release, entry };

  const git = run("git", ["--version"]);
  if (!git.ok) throw new Error(`the upgrade test needs git to take the previous release (${commit}) from the history: ${git.output}`);
  const found = run("git", ["cat-file", "-e", `${commit}^{commit}`]);
  if (!found.ok) {
    throw new Error(
      `the previous release, commit ${commit} (test/upgrade/previous-release.json), is not in this checkout's history ` +
        `(a shallow clone? run git fetch --unshallow): ${found.output}`,
    );
  }
  // Built beside its final place and renamed into it: two test files building at once both finish whole.
  const building = mkdtempSync(`${folder}.building-`);
  try {
    const unpacked = run("bash", ["-o", "pipefail", "-c", `git archive ${commit} | tar -x -C '${building}'`]);
    if (!unpacked.ok) throw new Error(`git archive ${commit} failed: ${unpacked.output}`);
    symlinkSync(realpathSync(join(root, "node_modules")), join(building, "node_modules"));
    const built = run(process.execPath, ["scripts/build.mjs"], building);
    if (!built.ok) throw new Error(`the previous release (${commit}) did not build: ${built.output}`);
    try {
      renameSync(building, folder);
    } catch (err) {
      // Another test file renamed its build first: the same commit, the same build.
      if (!existsSync(entry)) throw err;
    }
  } finally {
    rmSync(building, { recursive: true, force: true });
  }
  return { ...release, entry };
}
