/** The bench's command line. */
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import type { ServerOptions } from "./iam-server.mjs";
import { GRPC_SCENARIOS, HTTP_SCENARIOS, type Timing } from "./load/plan.mjs";
import { ROOT } from "./processes.mjs";

/** What --only accepts: the rows of the table (by scenario), the cross-check, the audit trail's cost, and the soak. */
export const PARTS = [...HTTP_SCENARIOS, ...GRPC_SCENARIOS, "grpc-bare", "peer-jwt", "h2load", "audit-cost", "soak"] as const;
export type Part = (typeof PARTS)[number];

export interface Settings {
  timing: Timing;
  /** Fewer runs for the generators' ceilings: they need only show a margin. */
  ceilingTiming: Timing;
  inFlight: number;
  /** The gRPC channel counts measured: one, and several. */
  channels: number[];
  wanted(part: Part): boolean;
  server: ServerOptions;
  /** iam-core's worker processes, as it will count them. */
  serverWorkers: number;
  defaultWorkers: boolean;
  soakSeconds: number;
  metrics: string;
  hold: boolean;
  out: string;
  args: Record<string, unknown>;
}

export function readSettings(argv: string[]): Settings {
  const { values: args } = parseArgs({
    args: argv,
    options: {
      runs: { type: "string", default: "5" },
      seconds: { type: "string", default: "4" },
      warmup: { type: "string", default: "2" },
      "in-flight": { type: "string", default: "64" },
      /** The "several channels" count of the gRPC rows (one channel is always measured too). */
      channels: { type: "string", default: "4" },
      only: { type: "string", default: "" },
      out: { type: "string", default: path.join(ROOT, "bench", "results", "latest.json") },
      /** Write a V8 CPU profile of each server process to this folder (open it in Chrome DevTools). */
      profile: { type: "string", default: "" },
      /** Save the server's /metrics page, as it is after the runs, to this file. */
      metrics: { type: "string", default: "" },
      /** Extra Node flags for the server (its workers inherit them), e.g. "--max-semi-space-size=4". */
      "node-flags": { type: "string", default: "" },
      /** IAM_WORKERS for the server (default: its default, one worker per core). */
      workers: { type: "string", default: "" },
      /** Start and seed the server, print how to reach it, and wait (Ctrl-C ends). */
      hold: { type: "boolean", default: false },
      /** Seconds of the soak (0: none). Part of a full run; with --only, only when "soak" is named. */
      soak: { type: "string", default: "300" },
    },
  });
  const only = new Set(args.only === "" ? PARTS : args.only.split(","));
  for (const part of only) if (!(PARTS as readonly string[]).includes(part)) throw new Error(`unknown part ${part}; known: ${PARTS.join(", ")}`);
  const number = (name: keyof typeof args, min: number) => {
    const n = Number(args[name]);
    if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number ≥ ${min}`);
    return n;
  };
  const timing = { runs: number("runs", 1), runSeconds: number("seconds", 1), warmupSeconds: number("warmup", 0) };
  const several = number("channels", 2);
  const workers = args.workers ?? "";
  return {
    timing,
    ceilingTiming: { ...timing, runs: Math.min(timing.runs, 3) },
    inFlight: number("in-flight", 1),
    channels: [1, several],
    wanted: (part) => only.has(part) && (part !== "soak" || number("soak", 0) > 0),
    server: { profile: args.profile ?? "", nodeFlags: args["node-flags"] ?? "", workers },
    serverWorkers: workers === "" || workers === "0" ? os.availableParallelism() : Number(workers),
    defaultWorkers: workers === "" || workers === "0",
    soakSeconds: number("soak", 0),
    metrics: args.metrics ?? "",
    hold: args.hold ?? false,
    out: args.out ?? "",
    args,
  };
}
