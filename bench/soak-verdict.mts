/**
 * Whether the server's memory grows under steady traffic, from the curve of
 * its PSS sampled through the soak (after the warm-up). Between full
 * collections a heap climbs with garbage and drops when it is collected: a
 * sawtooth, whose peaks say when the collector ran more than what is kept.
 * What is kept shows in the troughs. So the curve is cut into windows of
 * WINDOW_SECONDS, each window's lowest point is its floor, and the verdict
 * is the least-squares slope of the floors after the first minute (in which
 * the heap finds its size): a leak lifts every floor, the sawtooth does not.
 */
import { median, slope } from "./stats.mjs";

/** Growth of the floor allowed, MB per minute. */
export const SLOPE_LIMIT_MB_PER_MINUTE = 2;
/** The length of the windows whose lowest points are the floors. */
export const WINDOW_SECONDS = 30;
/** The curve's first minute is the heap finding its size, not growth. */
const SETTLING_SECONDS = 60;
/** Fewer floors than this cannot tell a trend. */
const MIN_FLOORS = 3;

export interface SoakVerdict {
  rule: string;
  value: string;
  ok: boolean;
  /** Slope of the floors, MB per minute. */
  slopeMbPerMinute: number;
  firstMinuteMb: number;
  lastMinuteMb: number;
  /** Each window's lowest point after the first minute: its start (s) and MB. */
  floors: { seconds: number; mb: number }[];
}

/** The lowest point of each full window of `WINDOW_SECONDS` from `from` on. */
export function floors(curve: readonly { seconds: number; mb: number }[], from: number): { seconds: number; mb: number }[] {
  const end = curve.at(-1)?.seconds ?? 0;
  const out: { seconds: number; mb: number }[] = [];
  for (let start = from; start + WINDOW_SECONDS <= end + 1e-9; start += WINDOW_SECONDS) {
    const inside = curve.filter((p) => p.seconds >= start && p.seconds < start + WINDOW_SECONDS).map((p) => p.mb);
    if (inside.length > 0) out.push({ seconds: start, mb: Math.min(...inside) });
  }
  return out;
}

export function soakVerdict(curve: readonly { seconds: number; mb: number }[]): SoakVerdict {
  const end = curve.at(-1)?.seconds ?? 0;
  const lows = floors(curve, SETTLING_SECONDS);
  const slopeMbPerMinute = lows.length >= 2 ? slope(lows.map((p) => ({ x: p.seconds / 60, y: p.mb }))) : Number.NaN;
  const firstMinuteMb = median(curve.filter((p) => p.seconds < 60).map((p) => p.mb));
  const lastMinuteMb = median(curve.filter((p) => p.seconds >= end - 60).map((p) => p.mb));
  const ok = lows.length >= MIN_FLOORS && slopeMbPerMinute <= SLOPE_LIMIT_MB_PER_MINUTE;
  const trend = Number.isNaN(slopeMbPerMinute) ? "too short to tell" : `${slopeMbPerMinute >= 0 ? "+" : ""}${slopeMbPerMinute.toFixed(2)} MB/min`;
  return {
    rule: `slope of the ${WINDOW_SECONDS} s floors after the first minute ≤ ${SLOPE_LIMIT_MB_PER_MINUTE} MB/min`,
    value:
      `${trend} over ${lows.length} floors (${lows.map((p) => p.mb.toFixed(0)).join(", ")} MB); ` +
      `median ${firstMinuteMb.toFixed(0)} MB in the first minute, ${lastMinuteMb.toFixed(0)} MB in the last`,
    ok,
    slopeMbPerMinute,
    firstMinuteMb,
    lastMinuteMb,
    floors: lows,
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
