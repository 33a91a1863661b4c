/**
 * Whether the server's memory grows under steady traffic: the curve of its
 * PSS sampled through the soak (after the warm-up), and the trend of its
 * second half. A heap that has found its size wanders up and down with the
 * garbage collector; a leak climbs on. The slope of the least-squares line
 * over the second half sees the climb and averages out the wandering.
 */
import { median, slope } from "./stats.mjs";

/** Growth allowed over the soak's second half, MB per minute. */
export const SLOPE_LIMIT_MB_PER_MINUTE = 2;

export interface SoakVerdict {
  rule: string;
  value: string;
  ok: boolean;
  slopeMbPerMinute: number;
  firstMinuteMb: number;
  lastMinuteMb: number;
}

export function soakVerdict(curve: readonly { seconds: number; mb: number }[]): SoakVerdict {
  const end = curve.at(-1)?.seconds ?? 0;
  const secondHalf = curve.filter((p) => p.seconds >= end / 2).map((p) => ({ x: p.seconds / 60, y: p.mb }));
  const slopeMbPerMinute = slope(secondHalf);
  const firstMinuteMb = median(curve.filter((p) => p.seconds < 60).map((p) => p.mb));
  const lastMinuteMb = median(curve.filter((p) => p.seconds >= end - 60).map((p) => p.mb));
  const ok = curve.length >= 4 && slopeMbPerMinute <= SLOPE_LIMIT_MB_PER_MINUTE;
  return {
    rule: `slope of the second half ≤ ${SLOPE_LIMIT_MB_PER_MINUTE} MB/min`,
    value: `${slopeMbPerMinute >= 0 ? "+" : ""}${slopeMbPerMinute.toFixed(2)} MB/min; median ${firstMinuteMb.toFixed(0)} MB in the first minute, ${lastMinuteMb.toFixed(0)} MB in the last`,
    ok,
    slopeMbPerMinute,
    firstMinuteMb,
    lastMinuteMb,
  };
}

/** The curve in a few lines: "time s: MB" pairs, at most one every `stepSeconds`. */
export function curveLines(curve: readonly { seconds: number; mb: number }[], stepSeconds: number, perLine = 10): string[] {
  const picked: string[] = [];
  let next = 0;
  for (const p of curve) {
    if (p.seconds + 0.5 < next) continue;
    picked.push(`${Math.round(p.seconds)}s ${p.mb.toFixed(0)}`);
    next = p.seconds + stepSeconds;
  }
  const lines: string[] = [];
  for (let i = 0; i < picked.length; i += perLine) lines.push(picked.slice(i, i + perLine).join(" · "));
  return lines;
}
