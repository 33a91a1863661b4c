/**
 * `npm run bench`: measures iam-core as `npm start` runs it, beside a bare
 * @grpc/grpc-js server and node-oidc-provider, with load generators shown in
 * the same run to drive at least 3× what they report; then soaks a fresh
 * server in mixed traffic and watches its memory. Prints the table, the
 * generators' ceilings, the targets and the soak, and writes them as JSON.
 * docs/performance.md describes the method.
 *
 *   npm run bench                                  # everything, the 5-minute soak included
 *   npm run bench -- --runs 3 --seconds 2 --only client-credentials,refresh
 *   npm run bench -- --only soak --soak 300        # the soak alone
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { auditCostPhase } from "./audit-cost.mjs";
import { crossCheck, crossCheckBare } from "./cross-check.mjs";
import { h2loadInstalled } from "./h2load.mjs";
import { RATE_LIMITS_OFF } from "./iam-server.mjs";
import { barePhase, ceilingPhase, hashPhase, iamParts, iamPhase, peerPhase, type Bench } from "./phases.mjs";
import { ROOT, runNode, startService } from "./processes.mjs";
import { reportLines, type SoakReport } from "./report.mjs";
import { applyCeilings } from "./results.mjs";
import { readSettings } from "./settings.mjs";
import { runSoakPhase } from "./soak.mjs";
import { computeTargets } from "./targets.mjs";

const settings = readSettings(process.argv.slice(2));
const { timing } = settings;

async function measureAll(bench: Bench): Promise<SoakReport | undefined> {
  const wanted = settings.wanted;
  if (iamParts.some(wanted) || wanted("h2load") || settings.hold) {
    await iamPhase(bench, async (server, fixture) => {
      if (wanted("h2load")) await crossCheck(bench, server, fixture);
    });
    if (settings.hold) return undefined;
  }
  if (wanted("grpc-bare") || wanted("grpc-ceiling") || wanted("grpc-verify")) await barePhase(bench);
  if (wanted("h2load") && (wanted("grpc-bare") || wanted("grpc-verify"))) await crossCheckBare(bench);
  if (wanted("flow")) await hashPhase(bench);
  if (wanted("audit-cost")) await auditCostPhase(bench);
  if (wanted("peer-client-credentials") || wanted("peer-introspection")) await peerPhase(bench, false);
  if (wanted("peer-jwt")) await peerPhase(bench, true);
  await ceilingPhase(bench);
  if (!wanted("soak")) return undefined;
  const { report, peakPssMb } = await runSoakPhase({
    dir: bench.dir,
    server: settings.server,
    seconds: settings.soakSeconds,
    channels: settings.channels.at(-1)!,
    serverWorkers: settings.serverWorkers,
    rates: bench.soakRates,
  });
  bench.iamPeakPssMb = Math.max(bench.iamPeakPssMb, peakPssMb);
  return report;
}

async function main(): Promise<void> {
  const started = new Date();
  const dir = mkdtempSync(path.join(os.tmpdir(), "iam-bench-"));
  process.stderr.write(
    `iam-core bench: ${timing.runs} runs of ${timing.runSeconds} s after ${timing.warmupSeconds} s of warm-up, ${settings.inFlight} in flight; generator ceilings ${settings.ceilingTiming.runs} runs\n`,
  );
  // What `npm start` runs: the compiled server.
  await runNode(["scripts/build.mjs"]);
  const cannedHttp = await startService("bench/canned-http.mts", [], path.join(dir, "canned-http.log"));
  const cannedGrpc = await startService("bench/canned-grpc.mts", [], path.join(dir, "canned-grpc.log"));
  const bare = await startService("bench/bare-grpc.mts", [], path.join(dir, "bare-grpc.log"));
  const bench: Bench = {
    settings,
    dir,
    cannedHttp: `http://127.0.0.1:${cannedHttp.port}`,
    cannedGrpc: `127.0.0.1:${cannedGrpc.port}`,
    bare: `127.0.0.1:${bare.port}`,
    rows: [],
    ceilings: [],
    ceilingPlans: new Map(),
    iamPeakPssMb: 0,
    hashRates: {},
    soakRates: {},
  };
  let soak: SoakReport | undefined;
  try {
    soak = await measureAll(bench);
    rmSync(dir, { recursive: true, force: true });
  } catch (err) {
    process.stderr.write(`the servers' logs are kept in ${dir}\n`);
    throw err;
  } finally {
    await Promise.all([cannedHttp.stop(), cannedGrpc.stop(), bare.stop()]);
  }
  if (settings.hold) return;

  const rows = applyCeilings(bench.rows, bench.ceilings);
  const targets = computeTargets({
    rows,
    ...(bench.hashRates.production === undefined ? {} : { hashRate: bench.hashRates.production }),
    channels: settings.channels.at(-1)!,
    inFlight: settings.inFlight,
    ...(bench.iamPeakPssMb > 0 ? { peakPssMb: bench.iamPeakPssMb } : {}),
    defaultWorkers: settings.defaultWorkers,
    ...(soak === undefined ? {} : { soak: soak.verdict }),
  });
  const machine = `${os.cpus()[0]?.model ?? "unknown CPU"}, ${os.availableParallelism()} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${os.type()} ${os.release()}`;
  const limits = Object.entries(RATE_LIMITS_OFF)
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");
  const header = [
    `date: ${started.toISOString()}; ${timing.runs} runs × ${timing.runSeconds} s after ${timing.warmupSeconds} s of warm-up (ceilings: ${settings.ceilingTiming.runs} runs); medians of the runs`,
    `iam-core as \`npm start\` runs it, ${settings.serverWorkers} worker process${settings.serverWorkers === 1 ? "" : "es"}, rate limits off (${limits}), production password hashing`,
    `load: ${settings.inFlight} in flight; HTTP from autocannon (one connection per request in flight), gRPC from @grpc/grpc-js (one channel, or ${settings.channels.at(-1)}), each in a process of its own on the same cores as the server`,
    ...(settings.wanted("h2load") && !h2loadInstalled() ? ["h2load is not installed (Debian: nghttp2-client): no cross-check rows"] : []),
  ];
  const report = { machine, header, rows, ceilings: bench.ceilings, hashRates: bench.hashRates, targets, ...(soak === undefined ? {} : { soak }) };
  process.stdout.write(`${reportLines(report).join("\n")}\n`);
  mkdirSync(path.dirname(settings.out), { recursive: true });
  writeFileSync(settings.out, JSON.stringify({ ...report, date: started.toISOString(), args: settings.args, iamPeakPssMb: bench.iamPeakPssMb }, null, 2));
  process.stderr.write(`written to ${path.relative(ROOT, settings.out)}\n`);
}

await main();
