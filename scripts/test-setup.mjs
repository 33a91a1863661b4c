/**
 * What `npm test` provides for its suites when it can, each said in one
 * line: Debian's chromium for the browser tests, and a throwaway PostgreSQL
 * cluster (scripts/postgres-test-cluster.sh) for the store, replica and flow
 * suites. Missing packages are installed with apt-get, as root or through
 * sudo without a password; where that is not possible a notice says what is
 * skipped.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** Where the browser tests look for chromium (test/browser/_browser.ts). */
export const CHROMIUM = "/usr/bin/chromium";
const CLUSTER = fileURLToPath(new URL("./postgres-test-cluster.sh", import.meta.url));

/** Whether PostgreSQL's server binaries are installed where Debian puts them. */
export function hasPostgres() {
  try {
    return readdirSync("/usr/lib/postgresql").some((version) => existsSync(`/usr/lib/postgresql/${version}/bin/initdb`));
  } catch {
    return false;
  }
}

/** How apt-get may run here: as root ([]), through sudo without a password (["sudo"]), or not at all (undefined). */
function aptRunner() {
  if (!existsSync("/usr/bin/apt-get")) return undefined;
  if (process.getuid?.() === 0) return [];
  return spawnSync("sudo", ["-n", "true"], { stdio: "ignore" }).status === 0 ? ["sudo"] : undefined;
}

function run(argv, env = {}) {
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("error", (err) => resolve({ code: 1, output: String(err) }));
    child.on("close", (code) => resolve({ code, output }));
  });
}

const lastLine = (text) => text.trim().split("\n").at(-1) ?? "";

/**
 * Installs Debian's packages (apt-get update, then install without the
 * recommended extras). Answers undefined when they are installed, or why not.
 */
export async function installPackages(packages, say) {
  const runner = aptRunner();
  const what = packages.join(" and ");
  if (runner === undefined) return `${what} not installed (apt-get install ${packages.join(" ")} needs root or sudo)`;
  const started = performance.now();
  const update = await run([...runner, "apt-get", "update", "-qq"]);
  const install =
    update.code === 0
      ? await run([...runner, "apt-get", "install", "-y", "-qq", "--no-install-recommends", ...packages], { DEBIAN_FRONTEND: "noninteractive" })
      : update;
  if (install.code !== 0) return `apt-get could not install ${what}: ${lastLine(install.output)}`;
  say(`installed ${what} (Debian's packages) in ${Math.round((performance.now() - started) / 1000)} s`);
  return undefined;
}

/** Starts a throwaway cluster; answers its URL and how to stop it, or why it did not start. */
export async function startPostgres(say) {
  const started = await run([CLUSTER]);
  const url = /^IAM_TEST_POSTGRES=(.*)$/m.exec(started.output)?.[1];
  const dir = /^IAM_TEST_POSTGRES_DIR=(.*)$/m.exec(started.output)?.[1];
  if (started.code !== 0 || url === undefined || dir === undefined) {
    return { problem: `the throwaway PostgreSQL cluster did not start: ${lastLine(started.output)}` };
  }
  say(`started a throwaway PostgreSQL cluster at ${url} for this run (removed at the end)`);
  return { url, stop: () => spawnSync(CLUSTER, ["stop", dir], { stdio: "ignore" }) };
}
