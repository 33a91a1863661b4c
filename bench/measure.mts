/**
 * One measurement: a load process driving one scenario against one target,
 * its runs reduced to medians, and the target's memory while it ran.
 */
import { median } from "./stats.mjs";
import type { LoadOutput, LoadPlan, RunResult } from "./load/plan.mjs";
import { MemoryWatch, runNode } from "./processes.mjs";

export type Unit = "requests/s" | "calls/s" | "flows/s" | "sign-ins/s";

export interface Measured {
  /** Units of work per second (median of the runs). */
  rate: number;
  /** HTTP requests or gRPC calls per second (median of the runs). */
  requestRate: number;
  /** Latency of a unit of work, ms (medians of the runs' percentiles); NaN when the generator does not report it. */
  p50: number;
  p99: number;
  /** CPU the load process used, in cores (median of the runs). */
  loadCpu: number;
  /** Errors in all the runs and the warm-up. */
  errors: number;
  firstError?: string;
  runs: RunResult[];
}

export function summarize(output: LoadOutput): Measured {
  const { runs } = output;
  return {
    rate: median(runs.map((r) => r.completed / r.seconds)),
    requestRate: median(runs.map((r) => r.requests / r.seconds)),
    p50: median(runs.map((r) => r.p50)),
    p99: median(runs.map((r) => r.p99)),
    loadCpu: median(runs.map((r) => r.loadCpu)),
    errors: output.warmupErrors + runs.reduce((n, r) => n + r.errors, 0),
    ...(output.firstError === undefined ? {} : { firstError: output.firstError }),
    runs,
  };
}

/** Several measurements of one load on one target, as one: every run's result, every error. */
export function merged(parts: Measured[]): Measured {
  const runs = parts.flatMap((m) => m.runs);
  const runErrors = runs.reduce((n, r) => n + r.errors, 0);
  const firstError = parts.find((m) => m.firstError !== undefined)?.firstError;
  return summarize({ runs, warmupErrors: parts.reduce((n, m) => n + m.errors, 0) - runErrors, ...(firstError === undefined ? {} : { firstError }) });
}

const rounded = (n: number) => Math.round(n).toLocaleString("en-US");

/** Progress on stderr: the table comes at the end, on stdout. */
export function progress(label: string, m: Measured, unit: Unit): void {
  const error = m.firstError === undefined ? "" : ` (${m.errors} errors, first: ${m.firstError})`;
  process.stderr.write(`  ${label}: ${rounded(m.rate)} ${unit}, p99 ${m.p99.toFixed(1)} ms${error}\n`);
}

/** Runs the load process of `plan`; `pid` is the target's process, whose peak memory is sampled meanwhile. */
export async function measure(plan: LoadPlan, label: string, unit: Unit, pid?: number): Promise<Measured & { peakPssMb?: number }> {
  const watch = pid === undefined ? undefined : new MemoryWatch(pid, 250);
  try {
    const output = JSON.parse(await runNode(["bench/load.mts", JSON.stringify(plan)])) as LoadOutput;
    const m = summarize(output);
    progress(label, m, unit);
    return watch === undefined ? m : { ...m, peakPssMb: watch.peak };
  } finally {
    watch?.stop();
  }
}
