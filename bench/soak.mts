/**
 * The soak: a fresh iam-core under mixed traffic for minutes, each scenario
 * at a fixed share of the rate it reached alone, all together, while the PSS
 * of its processes is sampled every second. Does its memory settle, or grow?
 */
import { seed, startIam, type ServerOptions } from "./iam-server.mjs";
import type { LoadPlan, Scenario, SoakOutput, SoakPlan, Timing } from "./load/plan.mjs";
import { measure } from "./measure.mjs";
import { MemoryWatch, runNode } from "./processes.mjs";
import type { SoakReport } from "./report.mjs";
import { soakVerdict } from "./soak-verdict.mjs";

/**
 * Each scenario's share of the rate it reached alone. Five scenarios at a
 * tenth each ask about half of what the server can do: steady, not saturated.
 */
export const SOAK_SHARE = 0.1;
/** Mixed traffic before the curve starts: caches filled, heaps grown to their working size. */
export const SOAK_WARMUP_SECONDS = 30;
export const SOAK_SCENARIOS: Scenario[] = ["client-credentials", "grpc-verify", "introspection", "refresh", "silent-sign-in"];

export interface SoakOptions {
  dir: string;
  server: ServerOptions;
  seconds: number;
  channels: number;
  serverWorkers: number;
  /** Rates measured earlier in this run (units/s), by scenario; the others are measured briefly first. */
  rates: Partial<Record<Scenario, number>>;
}

export async function runSoakPhase(options: SoakOptions): Promise<{ report: SoakReport; peakPssMb: number }> {
  process.stderr.write(`soak: ${options.seconds} s of mixed traffic at ${SOAK_SHARE * 100}% of each scenario's rate, after ${SOAK_WARMUP_SECONDS} s of warm-up\n`);
  const server = await startIam(options.dir, "iam-soak", options.server);
  const watch = new MemoryWatch(server.child.pid!, 1000);
  try {
    const fixture = await seed(server);
    const base: SoakPlan["base"] = {
      ...fixture,
      http: server.http,
      grpc: server.grpc,
      warmupSeconds: SOAK_WARMUP_SECONDS,
      channels: options.channels,
      tokens: 1000,
      serverWorkers: options.serverWorkers,
    };
    const rates: Partial<Record<Scenario, number>> = {};
    for (const scenario of SOAK_SCENARIOS) {
      let rate = options.rates[scenario];
      if (rate === undefined) {
        // Not measured in this run: a short measurement alone, which also warms this server up.
        const brief: Timing = { warmupSeconds: 1, runSeconds: 3, runs: 1 };
        const plan: LoadPlan = { ...base, ...brief, scenario, inFlight: 64 };
        rate = (await measure(plan, `${scenario} (alone, for the soak's rate)`, "requests/s")).rate;
        server.assertRunning(scenario);
      }
      rates[scenario] = rate * SOAK_SHARE;
    }
    const plan: SoakPlan = { base, seconds: options.seconds, rates };
    const out = await runNode(["bench/load.mts", "--soak", JSON.stringify(plan)], (line) => line === "measuring" && watch.startCurve());
    server.assertRunning("the soak");
    const { scenarios } = JSON.parse(out) as SoakOutput;
    const report: SoakReport = {
      seconds: options.seconds,
      share: SOAK_SHARE,
      scenarios: Object.entries(scenarios).map(([name, s]) => ({
        name,
        asked: rates[name as Scenario] ?? 0,
        done: s.rate,
        errors: s.errors,
        p99: s.p99,
        ...(s.firstError === undefined ? {} : { firstError: s.firstError }),
      })),
      curve: [...watch.curve],
      verdict: soakVerdict(watch.curve),
    };
    process.stderr.write(`  soak: ${report.verdict.value}\n`);
    return { report, peakPssMb: watch.peak };
  } finally {
    watch.stop();
    await server.stop();
  }
}
