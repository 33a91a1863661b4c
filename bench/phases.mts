/**
 * The parts of a bench run, in order: iam-core's scenarios, the bare grpc-js
 * server, the flow with the cheapest hash and argon2id alone, the peer, and
 * the generators' ceilings. Each measured row records how to measure its
 * own load's ceiling; the last phase measures them.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { benchFixture, seed, startIam, PREFIX, type IamServer } from "./iam-server.mjs";
import { isGrpcScenario, type Fixture, type HttpScenario, type LoadPlan, type Scenario } from "./load/plan.mjs";
import { measure, type Measured, type Unit } from "./measure.mjs";
import { MemoryWatch, runNode, startService } from "./processes.mjs";
import type { Ceiling, Row } from "./results.mjs";
import type { Part, Settings } from "./settings.mjs";

export interface Bench {
  settings: Settings;
  dir: string;
  /** The do-nothing targets (canned HTTP and gRPC answers), and the bare grpc-js server. */
  cannedHttp: string;
  cannedGrpc: string;
  bare: string;
  rows: Row[];
  ceilings: Ceiling[];
  /** How to measure the ceiling of each load seen so far, by load. */
  ceilingPlans: Map<string, { plan: LoadPlan; target: string }>;
  /** Peak PSS of iam-core's processes over the bench, MB. */
  iamPeakPssMb: number;
  hashRates: Record<string, number>;
  /** Rates of the soak's scenarios measured alone, units/s. */
  soakRates: Partial<Record<Scenario, number>>;
}

/** The HTTP scenarios measured on iam-core, in the table's order. */
const IAM_HTTP: { scenario: HttpScenario; what: string; unit: Unit }[] = [
  { scenario: "http-ceiling", what: "do-nothing route of the gateway (GET /healthz)", unit: "requests/s" },
  { scenario: "client-credentials", what: "client_credentials at /token, 256 clients, client_secret_basic", unit: "requests/s" },
  { scenario: "dpop-client-credentials", what: "the same with a DPoP proof (ES256, a new jti each request): a DPoP-bound token", unit: "requests/s" },
  { scenario: "private-key-jwt-client-credentials", what: "client_credentials, 64 clients, private_key_jwt (ES256 assertion, a new jti each request)", unit: "requests/s" },
  { scenario: "refresh", what: "refresh_token at /token, rotation (one chain per connection)", unit: "requests/s" },
  { scenario: "introspection", what: "introspection (RFC 7662), 1,000 distinct tokens", unit: "requests/s" },
  { scenario: "flow", what: "authorize + login + consent + token (4 requests), PKCE, argon2id m=19 MiB t=2", unit: "flows/s" },
  { scenario: "silent-sign-in", what: "authorize prompt=none with the session cookie (302 + code), then token (2 requests)", unit: "sign-ins/s" },
];

export function planFor(bench: Bench, scenario: Scenario, target: { http: string; grpc: string }, fixture: Fixture, extra: Partial<LoadPlan> = {}): LoadPlan {
  const s = bench.settings;
  return { ...fixture, ...s.timing, ...target, scenario, inFlight: s.inFlight, channels: 1, tokens: 1000, serverWorkers: s.serverWorkers, ...extra };
}

type RowMeta = Pick<Row, "name" | "what" | "unit" | "server">;

/** Measures one row and notes how to measure its load's ceiling (the same plan against the do-nothing targets). */
async function row(bench: Bench, plan: LoadPlan, meta: RowMeta, server?: IamServer): Promise<Row> {
  const measured = await measure(plan, meta.name, meta.unit, server?.child.pid);
  server?.assertRunning(meta.name);
  return addRow(bench, plan, meta, measured);
}

/** Adds a measured row, and notes how to measure its load's ceiling. */
export function addRow(bench: Bench, plan: LoadPlan, meta: RowMeta, measured: Measured): Row {
  const grpc = isGrpcScenario(plan.scenario);
  const load = grpc ? `${plan.scenario}-${plan.channels}ch` : plan.scenario;
  const r: Row = { ...measured, ...meta, load, generator: grpc ? "grpc-js" : "autocannon" };
  bench.rows.push(r);
  if (!bench.ceilingPlans.has(load)) {
    bench.ceilingPlans.set(load, {
      plan: { ...plan, ...bench.settings.ceilingTiming, http: bench.cannedHttp, grpc: bench.cannedGrpc, serverWorkers: 1 },
      target: grpc ? "canned gRPC answers (node:http2, one process)" : "canned HTTP answers (node:http, one process)",
    });
  }
  return r;
}

const grpcWhat = (scenario: string, channels: number) =>
  `${scenario === "grpc-verify" ? "VerifyToken, 1,000 distinct tokens" : "do-nothing RPC (grpc.health.v1.Health/Check)"}, ${channels} channel${channels === 1 ? "" : "s"}`;

export const iamParts: Part[] = [...IAM_HTTP.map((h) => h.scenario), "grpc-ceiling", "grpc-verify"];

/** iam-core with the default configuration: every iam-core row but the cheap-hash flow. */
export async function iamPhase(bench: Bench, during: (server: IamServer, fixture: Fixture) => Promise<void>): Promise<void> {
  const s = bench.settings;
  const server = await startIam(bench.dir, "iam", s.server);
  const watch = new MemoryWatch(server.child.pid!, 250);
  try {
    const fixture = await seed(server);
    const target = { http: server.http, grpc: server.grpc };
    if (s.hold) {
      process.stdout.write(`${JSON.stringify({ ...target, ...fixture }, null, 1).slice(0, 2000)}\n`);
      await new Promise((resolve) => process.once("SIGINT", resolve));
      return;
    }
    for (const h of IAM_HTTP) {
      if (!s.wanted(h.scenario)) continue;
      const r = await row(bench, planFor(bench, h.scenario, target, fixture), { name: h.scenario, what: h.what, unit: h.unit, server: "iam-core" }, server);
      if (h.scenario !== "flow") bench.soakRates[h.scenario] = r.rate;
    }
    for (const scenario of ["grpc-ceiling", "grpc-verify"] as const) {
      if (!s.wanted(scenario)) continue;
      for (const channels of s.channels) {
        const plan = planFor(bench, scenario, target, fixture, { channels });
        const r = await row(bench, plan, { name: `${scenario}-${channels}ch`, what: grpcWhat(scenario, channels), unit: "calls/s", server: "iam-core" }, server);
        if (scenario === "grpc-verify" && channels > 1) bench.soakRates["grpc-verify"] = r.rate;
      }
    }
    await during(server, fixture);
    if (s.metrics !== "") writeFileSync(s.metrics, await (await fetch(`${server.management}/metrics`)).text());
  } finally {
    watch.stop();
    bench.iamPeakPssMb = Math.max(bench.iamPeakPssMb, watch.peak);
    await server.stop();
  }
}

/** The bare grpc-js server, driven by the same load as the core's do-nothing RPC: the reference of the VerifyToken target. */
export async function barePhase(bench: Bench): Promise<void> {
  for (const channels of bench.settings.channels) {
    const plan = planFor(bench, "grpc-ceiling", { http: bench.cannedHttp, grpc: bench.bare }, benchFixture(PREFIX), { channels, serverWorkers: 1 });
    await row(bench, plan, {
      name: `grpc-bare-${channels}ch`,
      what: `bare @grpc/grpc-js server, own process, do-nothing RPC (Health/Check), ${channels} channel${channels === 1 ? "" : "s"}`,
      unit: "calls/s",
      server: "grpc-js",
    });
  }
}

/** The production and the cheapest argon2id setting. */
export const HASHES = { production: { memoryKib: 19456, iterations: 2 }, cheapest: { memoryKib: 8, iterations: 1 } };

/** argon2id alone, and the flow on a server whose hash costs next to nothing. */
export async function hashPhase(bench: Bench): Promise<void> {
  for (const [name, hash] of Object.entries(HASHES)) {
    const out = await runNode(["bench/hash.mts", String(hash.memoryKib), String(hash.iterations), String(bench.settings.timing.runSeconds)]);
    bench.hashRates[name] = (JSON.parse(out) as { rate: number }).rate;
  }
  const cheap = await startIam(bench.dir, "iam-cheap-hash", bench.settings.server, {
    IAM_PASSWORD_HASH_MEMORY_KIB: String(HASHES.cheapest.memoryKib),
    IAM_PASSWORD_HASH_ITERATIONS: String(HASHES.cheapest.iterations),
  });
  const watch = new MemoryWatch(cheap.child.pid!, 250);
  try {
    const fixture = await seed(cheap);
    const plan = planFor(bench, "flow", { http: cheap.http, grpc: cheap.grpc }, fixture);
    await row(bench, plan, { name: "flow-cheap-hash", what: "the same flow, argon2id m=8 KiB t=1", unit: "flows/s", server: "iam-core" }, cheap);
  } finally {
    watch.stop();
    bench.iamPeakPssMb = Math.max(bench.iamPeakPssMb, watch.peak);
    await cheap.stop();
  }
}

/** node-oidc-provider 9 doing the same work, opaque tokens (the targets' peer); with `jwt`, ES256 JWT access tokens. */
export async function peerPhase(bench: Bench, jwt: boolean): Promise<void> {
  const fixture = benchFixture("");
  const peer = await startService(
    "bench/peer-oidc-provider.mts",
    [JSON.stringify({ clients: fixture.clients, scope: fixture.scope, jwt })],
    path.join(bench.dir, `oidc-provider${jwt ? "-jwt" : ""}.log`),
  );
  try {
    const target = { http: `http://127.0.0.1:${peer.port}`, grpc: "" };
    const one = { serverWorkers: 1 };
    if (jwt) {
      const plan = planFor(bench, "peer-client-credentials", target, fixture, one);
      await row(bench, plan, { name: "peer-jwt-client-credentials", what: "oidc-provider 9, client_credentials, ES256 JWT access tokens (reported only)", unit: "requests/s", server: "oidc-provider" });
      return;
    }
    if (bench.settings.wanted("peer-client-credentials")) {
      const plan = planFor(bench, "peer-client-credentials", target, fixture, one);
      await row(bench, plan, { name: "peer-client-credentials", what: "oidc-provider 9, client_credentials, 256 clients, opaque tokens", unit: "requests/s", server: "oidc-provider" });
    }
    if (bench.settings.wanted("peer-introspection")) {
      const plan = planFor(bench, "peer-introspection", target, fixture, one);
      await row(bench, plan, { name: "peer-introspection", what: "oidc-provider 9, introspection, 1,000 distinct opaque tokens", unit: "requests/s", server: "oidc-provider" });
    }
  } finally {
    await peer.stop();
  }
}

/** Each load's own ceiling: its load process against the do-nothing target of its protocol. */
export async function ceilingPhase(bench: Bench): Promise<void> {
  for (const [load, { plan, target }] of bench.ceilingPlans) {
    if (bench.ceilings.some((c) => c.load === load)) continue;
    const m = await measure(plan, `ceiling of ${load}`, bench.rows.find((r) => r.load === load)?.unit ?? "requests/s");
    bench.ceilings.push({ ...m, load, target });
  }
}
