/**
 * What writing audit events costs the hot paths (docs/performance.md): two
 * servers at once, one as deployed and a twin that writes no event
 * (bench/without-audit), both with the cheapest password hash so that the
 * flow measures its own work rather than argon2id. The runs alternate
 * between them, one run each, the order swapped every round, so that the
 * shared machine's slow moments fall on both alike. Afterwards the twin's
 * trail must be empty and the other's must hold what the runs did, or the
 * comparison compared nothing.
 */
import path from "node:path";
import Database from "better-sqlite3";
import { seed, startIam } from "./iam-server.mjs";
import type { HttpScenario } from "./load/plan.mjs";
import { measure, merged, type Measured } from "./measure.mjs";
import { addRow, HASHES, planFor, type Bench } from "./phases.mjs";
import { ROOT } from "./processes.mjs";

/** The scenarios whose rate the audit trail could cost, with the action each writes once per unit at least. */
export const AUDITED: { scenario: HttpScenario; writes: string; unit: "requests/s" | "flows/s" }[] = [
  { scenario: "client-credentials", writes: "TOKEN_ISSUED", unit: "requests/s" },
  { scenario: "refresh", writes: "TOKEN_REFRESHED", unit: "requests/s" },
  { scenario: "flow", writes: "CODE_EXCHANGED", unit: "flows/s" },
];

const WITHOUT = path.join(ROOT, "bench", "without-audit", "register.mjs");

export async function auditCostPhase(bench: Bench): Promise<void> {
  const s = bench.settings;
  const cheap = {
    IAM_PASSWORD_HASH_MEMORY_KIB: String(HASHES.cheapest.memoryKib),
    IAM_PASSWORD_HASH_ITERATIONS: String(HASHES.cheapest.iterations),
  };
  const sides = {
    on: await startIam(bench.dir, "iam-audit-on", s.server, cheap),
    off: await startIam(bench.dir, "iam-audit-off", { ...s.server, nodeFlags: `${s.server.nodeFlags} --import ${WITHOUT}`.trim() }, cheap),
  };
  try {
    const fixtures = { on: await seed(sides.on), off: await seed(sides.off) };
    for (const { scenario, unit } of AUDITED) {
      const parts: Record<"on" | "off", Measured[]> = { on: [], off: [] };
      for (let round = 0; round < s.timing.runs; round++) {
        for (const side of round % 2 === 0 ? (["on", "off"] as const) : (["off", "on"] as const)) {
          const server = sides[side];
          const plan = planFor(bench, scenario, { http: server.http, grpc: server.grpc }, fixtures[side], { runs: 1 });
          parts[side].push(await measure(plan, `audit events ${side}, ${scenario}, round ${round + 1}`, unit));
          server.assertRunning(`the audit cost of ${scenario}`);
        }
      }
      for (const side of ["on", "off"] as const) {
        const plan = planFor(bench, scenario, { http: sides[side].http, grpc: sides[side].grpc }, fixtures[side]);
        const what = `${scenario}, ${side === "on" ? "audit events written" : "no audit event (the baseline)"}, runs alternated, argon2id m=8 KiB t=1`;
        addRow(bench, plan, { name: `audit-${side}-${scenario}`, what, unit, server: side === "on" ? "iam-core" : "iam-core without audit events" }, merged(parts[side]));
      }
    }
  } finally {
    await Promise.all([sides.on.stop(), sides.off.stop()]);
  }
  checkTrails(bench);
}

/** The twin wrote no event; the server as deployed wrote each scenario's. */
function checkTrails(bench: Bench): void {
  const count = (side: string, where: string, ...args: string[]) => {
    const db = new Database(path.join(bench.dir, `iam-audit-${side}.db`), { readonly: true, fileMustExist: true });
    try {
      return (db.prepare(`SELECT count(*) AS n FROM audit_events ${where}`).get(...args) as { n: number }).n;
    } finally {
      db.close();
    }
  };
  const off = count("off", "");
  if (off !== 0) throw new Error(`the server without audit events wrote ${off}: the audit cost compares nothing`);
  for (const { scenario, writes } of AUDITED) {
    if (count("on", "WHERE action = ?", writes) === 0) throw new Error(`the server with audit events wrote no ${writes} during ${scenario}`);
  }
}
