/** What the `iam` command's tests share (not a test file itself). */
import { spawnSync } from "node:child_process";
import { BASE_URL, compiledIam } from "../helpers.js";

/**
 * Runs the `iam` command as a user would, on the given database file
 * (compiled, as `npm start` runs it, unless `bin` is given); `env` adds to
 * its environment (a key encryption key, say).
 */
export function iam(db: string, args: string[], input?: string, bin = compiledIam(), env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [bin, ...args], {
    env: {
      ...process.env,
      IAM_DB: db,
      IAM_BASE_URL: BASE_URL,
      IAM_ADMIN_PASSWORD: "cli-admin-password",
      IAM_PASSWORD_HASH_MEMORY_KIB: "64",
      IAM_PASSWORD_HASH_ITERATIONS: "1",
      ...env,
    },
    input: input ?? "",
    encoding: "utf8",
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}
