// `npm test`: every tier of scripts/test-tiers.mjs in order (fast, then
// integration, then process), then the PostgreSQL pass: the suites whose
// outcome depends on the store, again with every core on PostgreSQL.
// `node scripts/test.mjs fast` (npm run test:fast, test:integration,
// test:process, test:postgres) runs some of them.
//
// It provides what the suites need when it can, each in one line: dist/
// (scripts/build.mjs, skipped when up to date), Debian's chromium, and a
// throwaway PostgreSQL cluster unless IAM_TEST_POSTGRES names a server.
// What it cannot provide is skipped with a notice; with IAM_TEST_STRICT=1
// (as .ci/run sets) that fails the run.
//
// Other arguments go to every ava run (for example --tap); files named
// among them run alone, on SQLite, with nothing provided but dist/.
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { constants } from "node:os";
import { fileURLToPath } from "node:url";
import { BROWSER, CONCURRENCY, filesOf, POSTGRES_PASS, problems, testFiles, TIERS } from "./test-tiers.mjs";
import { CHROMIUM, hasPostgres, installPackages, startPostgres } from "./test-setup.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const ava = fileURLToPath(new URL("../node_modules/ava/entrypoints/cli.mjs", import.meta.url));
const STAGES = [...Object.keys(TIERS), "postgres"];
/** ava's options that take a value as the next argument (which is then no file). */
const WITH_VALUE = new Set(["--match", "-m", "--timeout", "-T", "--concurrency", "-c", "--node-arguments", "--config"]);

const say = (line) => console.error(`npm test: ${line}`);
const strict = process.env.IAM_TEST_STRICT === "1";

const argv = process.argv.slice(2);
const stages = argv.filter((a) => STAGES.includes(a));
const rest = argv.filter((a) => !STAGES.includes(a));
const named = rest.filter((a, i) => !a.startsWith("-") && !WITH_VALUE.has(rest[i - 1]));
const selected = stages.length > 0 ? STAGES.filter((s) => stages.includes(s)) : STAGES;

/**
 * Runs ava with these arguments (and the ones given to this script); resolves
 * to its exit code. ava starts files in the order they are named.
 */
let running;
function runAva(args, env = {}) {
  return new Promise((resolve) => {
    running = spawn(process.execPath, [ava, ...args, ...rest], { cwd: root, stdio: "inherit", env: { ...process.env, ...env } });
    running.on("close", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

function build() {
  const result = spawnSync(process.execPath, [fileURLToPath(new URL("./build.mjs", import.meta.url))], { stdio: "inherit" });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

if (named.length > 0) {
  build();
  process.exit(await runAva([]));
}

const files = testFiles();
const misplaced = problems(files);
if (misplaced.length > 0) {
  console.error(`Every test file must be in one tier of scripts/test-tiers.mjs:\n  ${misplaced.join("\n  ")}`);
  process.exit(1);
}

let status = 0;
const fail = (problem) => {
  say(`${problem}${strict ? " (IAM_TEST_STRICT: a failure)" : ""}`);
  if (strict) status = 1;
};

// What the stages after the fast tier need, provided while the fast tier runs.
const needsChromium = selected.includes("process") && !existsSync(CHROMIUM);
const needsPostgres = selected.some((s) => s !== "fast") && !process.env.IAM_TEST_POSTGRES;
// The client ID metadata document tests serve their documents over HTTPS with a certificate openssl makes.
const needsOpenssl = selected.some((s) => s !== "fast") && !existsSync("/usr/bin/openssl");
if (selected.some((s) => s !== "fast")) build();
let postgres;
const provided = (async () => {
  const packages = [...(needsChromium ? ["chromium"] : []), ...(needsOpenssl ? ["openssl"] : []), ...(needsPostgres && !hasPostgres() ? ["postgresql"] : [])];
  const installProblem = packages.length > 0 ? await installPackages(packages, say) : undefined;
  if (needsPostgres && hasPostgres()) {
    postgres = await startPostgres(say);
    if (postgres.problem) fail(`${postgres.problem}: the PostgreSQL suites are skipped`);
    else process.env.IAM_TEST_POSTGRES = postgres.url;
  }
  if (installProblem !== undefined) {
    const skipped = [...(needsChromium ? ["the browser tests"] : []), ...(packages.includes("postgresql") ? ["the PostgreSQL suites"] : [])];
    fail(`${installProblem}: ${skipped.join(" and ")} are skipped`);
  }
})();
const stopPostgres = () => postgres?.stop?.();
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    running?.kill(signal);
    stopPostgres();
    process.exit(128 + constants.signals[signal]);
  });
}

const ABOUT = {
  fast: "pure and in-memory",
  integration: "real servers on loopback, HTTP, gRPC and standards clients, PostgreSQL",
  process: "processes: crash, workers, replicas, CLI, browser, fuzz, builds",
  postgres: "the suites that depend on the store, every core on PostgreSQL",
};
const took = [];
for (const stage of selected) {
  if (stage !== "fast") await provided;
  const started = performance.now();
  if (stage === "postgres") {
    if (!process.env.IAM_TEST_POSTGRES) {
      say("PostgreSQL is not configured (IAM_TEST_POSTGRES): the PostgreSQL pass is skipped");
      continue;
    }
    console.error(`\n== PostgreSQL pass: ${ABOUT.postgres} (${POSTGRES_PASS.length} files)`);
    status = (await runAva(POSTGRES_PASS.map((p) => p.file), { IAM_TEST_BACKEND: "postgres" })) || status;
  } else {
    let tierFiles = filesOf(stage, files);
    if (stage === "process" && !existsSync(CHROMIUM)) tierFiles = tierFiles.filter((f) => !BROWSER.some((b) => f.startsWith(b)));
    console.error(`\n== ${stage} tier: ${ABOUT[stage]} (${tierFiles.length} files)`);
    const concurrency = CONCURRENCY[stage] !== undefined && !rest.some((a) => /^(--concurrency|-c)(=|$)/.test(a)) ? ["--concurrency", String(CONCURRENCY[stage])] : [];
    status = (await runAva([...concurrency, ...tierFiles])) || status;
  }
  took.push(`${stage} ${Math.round((performance.now() - started) / 1000)} s`);
}
await provided;
stopPostgres();
console.error(`\nnpm test: ${took.join(", ")}`);
process.exit(status);
