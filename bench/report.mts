/** The bench's printed report: the table of rows, the generators' ceilings, the targets, and the soak. */
import type { Ceiling, Row } from "./results.mjs";
import { curveLines, type SoakVerdict } from "./soak-verdict.mjs";
import type { Target } from "./targets.mjs";

export interface SoakReport {
  seconds: number;
  share: number;
  /** Each scenario's rate asked for and done, errors, p99. */
  scenarios: { name: string; asked: number; done: number; errors: number; p99: number; firstError?: string }[];
  curve: { seconds: number; mb: number }[];
  verdict: SoakVerdict;
}

export interface Report {
  machine: string;
  header: string[];
  rows: Row[];
  ceilings: Ceiling[];
  hashRates: Record<string, number>;
  targets: Target[];
  soak?: SoakReport;
}

const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "–");
const ms = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : "–");
const cores = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : "–");

function rowLine(r: Row): string {
  const mark = r.generatorBound === true ? "generator-bound?" : "";
  const ceiling = r.ceiling === undefined ? "" : int(r.ceiling);
  const x = r.times === undefined ? "" : `${r.times.toFixed(1)}×`;
  const pss = r.peakPssMb === undefined ? "" : r.peakPssMb.toFixed(0);
  return `| ${r.name} | ${r.what} | ${int(r.rate)} | ${r.unit} | ${ms(r.p50)} | ${ms(r.p99)} | ${r.errors} | ${pss} | ${cores(r.loadCpu)} | ${ceiling} | ${x} | ${mark} |`;
}

/** Where a load first appears among the rows, to list the ceilings in the table's order. */
const firstRow = (report: Report, load: string) => report.rows.findIndex((r) => r.load === load);

export function reportLines(report: Report): string[] {
  const lines = [
    `machine: ${report.machine}`,
    ...report.header,
    "",
    "| scenario | what | rate | unit | p50 ms | p99 ms | errors | iam-core peak PSS MB | load CPU (cores) | generator ceiling | × | |",
    "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ...report.rows.map(rowLine),
    ...Object.entries(report.hashRates).map(
      ([name, r]) =>
        `| hash-${name} | argon2id verifications alone, every core busy (${name === "production" ? "m=19 MiB t=2" : "m=8 KiB t=1"}) | ${int(r)} | hashes/s | | | | | | | | |`,
    ),
  ];
  if (report.ceilings.length > 0) {
    lines.push(
      "",
      "Generator ceilings: each row's own load process against a do-nothing target of the same protocol, in the same run.",
      "",
      "| load | do-nothing target | rate | unit | p50 ms | p99 ms | errors | load CPU (cores) |",
      "|---|---|---:|---|---:|---:|---:|---:|",
      ...[...report.ceilings].sort((a, b) => firstRow(report, a.load) - firstRow(report, b.load)).map((c) => {
        const row = report.rows.find((r) => r.load === c.load);
        return `| ${c.load} | ${c.target} | ${int(c.rate)} | ${row?.unit ?? ""} | ${ms(c.p50)} | ${ms(c.p99)} | ${c.errors} | ${cores(c.loadCpu)} |`;
      }),
    );
  }
  lines.push("", "| target | measured | |", "|---|---|---|", ...report.targets.map((t) => `| ${t.target} | ${t.value} | ${t.ok === undefined ? "" : t.ok ? "met" : "MISSED"} |`));
  const errors = [...report.rows, ...report.ceilings].filter((r) => r.firstError !== undefined);
  if (errors.length > 0) lines.push("", "First errors:", ...errors.map((r) => `- ${"name" in r ? r.name : `ceiling ${r.load}`}: ${r.firstError}`));
  if (report.soak !== undefined) lines.push("", ...soakLines(report.soak));
  return lines;
}

function soakLines(soak: SoakReport): string[] {
  return [
    `Soak: ${soak.seconds} s of mixed traffic after the warm-up, each scenario at ${(soak.share * 100).toFixed(0)}% of its measured rate, together:`,
    ...soak.scenarios.map(
      (s) => `- ${s.name}: ${int(s.done)}/s (asked ${int(s.asked)}/s), p99 ${ms(s.p99)} ms, ${s.errors} errors${s.firstError === undefined ? "" : ` (first: ${s.firstError})`}`,
    ),
    "iam-core's PSS, MB (time since the warm-up ended):",
    ...curveLines(soak.curve, 15).map((l) => `  ${l}`),
    `Verdict: ${soak.verdict.value}: ${soak.verdict.ok ? "met" : "MISSED"} (${soak.verdict.rule}).`,
  ];
}
