/**
 * The performance targets, as ratios of rows of one run (each row a median
 * of its runs), and the limits every row must keep. A target whose rows did
 * not run is "not run", neither met nor missed.
 */
import { AUDITED } from "./audit-cost.mjs";
import { CEILING_FACTOR, type Row } from "./results.mjs";
import type { SoakVerdict } from "./soak-verdict.mjs";

export interface Target {
  target: string;
  /** The measured value as shown. */
  value: string;
  /** undefined: not run, or reported without a target. */
  ok?: boolean;
}

export interface TargetInputs {
  rows: Row[];
  /** argon2id verifications per second with every core busy, production setting. */
  hashRate?: number;
  /** gRPC channels of the "several channels" rows. */
  channels: number;
  inFlight: number;
  /** Peak PSS of iam-core's processes over the whole bench, MB, and whether they ran with the default workers. */
  peakPssMb?: number;
  defaultWorkers: boolean;
  soak?: SoakVerdict;
}

export const MEMORY_LIMIT_MB = 300;
export const P99_LIMIT_MS = 50;
/** Rows whose unit is a whole sign-in (several requests, a password hash): no p99 limit. */
export const FLOWS = new Set(["flow", "flow-cheap-hash", "silent-sign-in", "audit-on-flow"]);
/** The share of a hot path's rate that writing its audit events may cost. */
export const AUDIT_COST_LIMIT = 0.1;

const percent = (v: number) => `${(v * 100).toFixed(0)}%`;
const times = (v: number) => `${v.toFixed(2)}×`;

/**
 * Row `a`'s rate over row `b`'s (or over a number). When either row's
 * generator was near its own ceiling, the value says so: the ratio may be
 * one of two generators' limits rather than of two servers.
 */
function ratio(rows: Row[], target: string, a: string, b: string | number | undefined, min: number, show: (v: number) => string): Target {
  const x = rows.find((r) => r.name === a);
  const y = typeof b === "number" || b === undefined ? b : rows.find((r) => r.name === b);
  if (x === undefined || y === undefined) return { target, value: "not run" };
  const v = x.rate / (typeof y === "number" ? y : y.rate);
  const bound = [x, y].filter((r): r is Row => typeof r === "object" && r.generatorBound === true).map((r) => r.name);
  return { target, value: `${show(v)}${bound.length === 0 ? "" : ` (generator-bound? ${bound.join(", ")})`}`, ok: v >= min };
}

export function computeTargets(input: TargetInputs): Target[] {
  const { rows, channels: n } = input;
  const ours = rows.filter((r) => r.server === "iam-core" && r.generator !== "h2load");
  const withErrors = rows.filter((r) => r.errors > 0);
  const timed = ours.filter((r) => !FLOWS.has(r.name));
  const worst = timed.reduce<Row | undefined>((w, r) => (w === undefined || r.p99 > w.p99 ? r : w), undefined);
  const bound = rows.filter((r) => r.generatorBound === true);
  const targets: Target[] = [
    ratio(rows, "VerifyToken ≥ 75% of the bare grpc-js server, 1 channel", "grpc-verify-1ch", "grpc-bare-1ch", 0.75, percent),
    ratio(rows, `VerifyToken ≥ 75% of the bare grpc-js server, ${n} channels`, `grpc-verify-${n}ch`, `grpc-bare-${n}ch`, 0.75, percent),
    ratio(rows, "VerifyToken ≥ 75% of the bare grpc-js server, h2load, 1 connection", "h2load-grpc-verify-1ch", "h2load-grpc-bare-1ch", 0.75, percent),
    ratio(rows, `VerifyToken ≥ 75% of the bare grpc-js server, h2load, ${n} connections`, `h2load-grpc-verify-${n}ch`, `h2load-grpc-bare-${n}ch`, 0.75, percent),
    ratio(rows, "VerifyToken (h2load, 1 connection) ≥ 1.2× oidc-provider introspection", "h2load-grpc-verify-1ch", "peer-introspection", 1.2, times),
    ratio(rows, `VerifyToken (h2load, ${n} connections) ≥ 1.2× oidc-provider introspection`, `h2load-grpc-verify-${n}ch`, "peer-introspection", 1.2, times),
    ratio(rows, "VerifyToken (1 channel) ≥ 1.2× oidc-provider introspection", "grpc-verify-1ch", "peer-introspection", 1.2, times),
    ratio(rows, `VerifyToken (${n} channels) ≥ 1.2× oidc-provider introspection`, `grpc-verify-${n}ch`, "peer-introspection", 1.2, times),
    ratio(rows, "client_credentials ≥ 1.5× oidc-provider", "client-credentials", "peer-client-credentials", 1.5, times),
    ratio(rows, "introspection ≥ 2× oidc-provider", "introspection", "peer-introspection", 2, times),
    ratio(rows, "refresh ≥ 50% of client_credentials", "refresh", "client-credentials", 0.5, percent),
    ratio(rows, "full flow ≥ 75% of what argon2id alone allows", "flow", input.hashRate, 0.75, percent),
    ...AUDITED.map(({ scenario }) =>
      ratio(rows, `audit events: ${scenario} keeps ≥ ${percent(1 - AUDIT_COST_LIMIT)} of its rate without them`, `audit-on-${scenario}`, `audit-off-${scenario}`, 1 - AUDIT_COST_LIMIT, percent),
    ),
    {
      target: "no errors",
      value: withErrors.length === 0 ? "0 errors" : withErrors.map((r) => `${r.name}: ${r.errors}`).join(", "),
      ok: withErrors.length === 0,
    },
    worst === undefined
      ? { target: `p99 < ${P99_LIMIT_MS} ms at ${input.inFlight} in flight`, value: "not run" }
      : {
          target: `p99 < ${P99_LIMIT_MS} ms at ${input.inFlight} in flight (all but the flows)`,
          value: `worst ${worst.p99.toFixed(1)} ms (${worst.name})`,
          ok: worst.p99 < P99_LIMIT_MS,
        },
    input.peakPssMb === undefined
      ? { target: `memory ≤ ${MEMORY_LIMIT_MB} MB`, value: "not run" }
      : {
          target: `memory: peak PSS of iam-core's processes ≤ ${MEMORY_LIMIT_MB} MB over the whole bench`,
          value: `${input.peakPssMb.toFixed(0)} MB${input.defaultWorkers ? "" : " (not the default workers)"}`,
          ...(input.defaultWorkers ? { ok: input.peakPssMb <= MEMORY_LIMIT_MB } : {}),
        },
    input.soak === undefined
      ? { target: "no memory growth over the soak", value: "not run" }
      : { target: `no memory growth over the soak (${input.soak.rule})`, value: input.soak.value, ok: input.soak.ok },
    {
      target: `every generator drives ≥ ${CEILING_FACTOR}× the rate it reports`,
      value: bound.length === 0 ? "all rows" : `generator-bound? ${bound.map((r) => r.name).join(", ")}`,
      ok: bound.length === 0,
    },
  ];
  return targets;
}
