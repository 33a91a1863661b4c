/**
 * The rows of the bench's table, and the rule that checks each row against
 * its generator's own ceiling: the same load process, driving a do-nothing
 * target of the same protocol, must reach at least 3× the rate the row
 * reports, or the row may be measuring its generator.
 */
import type { Measured, Unit } from "./measure.mjs";

/** A generator must drive at least this many times the rate it reports. */
export const CEILING_FACTOR = 3;

export type Generator = "autocannon" | "grpc-js" | "h2load";

export interface Row extends Measured {
  /** The row's name in the table, --only and the targets (e.g. client-credentials, grpc-verify-4ch). */
  name: string;
  what: string;
  unit: Unit;
  server: "iam-core" | "iam-core without audit events" | "oidc-provider" | "grpc-js";
  generator: Generator;
  /** The load's identity (generator, scenario, channels): rows of the same load share a ceiling. */
  load: string;
  /** The server's peak memory during the row (iam-core's processes together, PSS), MB. */
  peakPssMb?: number;
  /** Filled by applyCeilings. */
  ceiling?: number;
  times?: number;
  generatorBound?: boolean;
}

/** A generator's ceiling: its load against a do-nothing target. */
export interface Ceiling extends Measured {
  load: string;
  /** What the do-nothing target was. */
  target: string;
}

/** Each row's ceiling (its own load's), the factor between them, and whether the row is within 3× of it. */
export function applyCeilings(rows: Row[], ceilings: Ceiling[]): Row[] {
  return rows.map((row) => {
    const ceiling = ceilings.find((c) => c.load === row.load);
    if (ceiling === undefined) return row;
    const times = ceiling.rate / row.rate;
    return { ...row, ceiling: ceiling.rate, times, generatorBound: !(times >= CEILING_FACTOR) };
  });
}
