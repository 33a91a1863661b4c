/**
 * The h2load rows (optional: only when h2load is installed; never required):
 * iam-core's gRPC port driven by a generator that costs far less CPU per
 * call than a grpc-js client, with its own ceiling against the canned gRPC
 * target. Same calls in flight as the other rows, over 1 and several
 * connections. VerifyToken here presents one token over and over.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { HealthCheckRequestSchema } from "../gen/grpc/health/v1/health_pb.js";
import { VerifyTokenRequestSchema, VerifyTokenResponseSchema } from "../gen/iam/v1/token_pb.js";
import { grpcFrame, h2load, h2loadInstalled } from "./h2load.mjs";
import type { IamServer } from "./iam-server.mjs";
import { GrpcClients, serialized } from "./load/grpc.mjs";
import type { Fixture, LoadPlan } from "./load/plan.mjs";
import { SetupHttp, issueTokens } from "./load/prepare.mjs";
import type { Measured } from "./measure.mjs";
import type { Bench } from "./phases.mjs";

/** One token from iam-core, checked active by a grpc-js call (h2load reads no grpc-status). */
async function oneToken(server: IamServer, fixture: Fixture): Promise<{ request: Uint8Array }> {
  const plan = { ...fixture, http: server.http, tokens: 1 } as LoadPlan;
  const setup = new SetupHttp(server.http);
  const clients = new GrpcClients(server.grpc, 1);
  try {
    const [token] = await issueTokens(plan, setup);
    const request = create(VerifyTokenRequestSchema, { token: token!, organization: fixture.organization, project: fixture.project, requiredScopes: [fixture.scope] });
    const answer = await clients.call("/iam.v1.TokenService/VerifyToken", serialized(VerifyTokenRequestSchema, request), VerifyTokenResponseSchema);
    if (!answer.active) throw new Error(`the h2load token does not verify (failure ${answer.failure})`);
    return { request: toBinary(VerifyTokenRequestSchema, request) };
  } finally {
    setup.close();
    clients.close();
  }
}

/**
 * The bare grpc-js server's do-nothing RPC driven by h2load too: the reference
 * of the VerifyToken rows without the grpc-js client's own limit.
 */
export async function crossCheckBare(bench: Bench): Promise<void> {
  if (!h2loadInstalled()) return;
  const s = bench.settings;
  for (const connections of s.channels) {
    const load = `h2load grpc-bare-${connections}ch`;
    const result = await h2load({
      method: "/grpc.health.v1.Health/Check",
      body: grpcFrame(toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema))),
      connections,
      streams: Math.max(1, Math.round(s.inFlight / connections)),
      warmupSeconds: s.timing.warmupSeconds,
      runSeconds: s.timing.runSeconds,
      dir: bench.dir,
      address: bench.bare,
      runs: s.ceilingTiming.runs,
    });
    const what = `h2load (C, nghttp2): bare @grpc/grpc-js server, do-nothing RPC (Health/Check), ${connections} connection${connections === 1 ? "" : "s"} (cross-check)`;
    bench.rows.push({
      rate: result.rate,
      requestRate: result.rate,
      p50: Number.NaN,
      p99: Number.NaN,
      loadCpu: Number.NaN,
      errors: result.errors,
      runs: result.runs,
      name: load.replace(" ", "-"),
      what,
      unit: "calls/s",
      server: "grpc-js",
      generator: "h2load",
      load,
    });
    process.stderr.write(`  ${load}: ${Math.round(result.rate)} calls/s (mean ${result.meanMs.toFixed(1)} ms)\n`);
  }
}

export async function crossCheck(bench: Bench, server: IamServer, fixture: Fixture): Promise<void> {
  if (!h2loadInstalled()) {
    process.stderr.write("  h2load: not installed (Debian: nghttp2-client); the cross-check rows are skipped\n");
    return;
  }
  const s = bench.settings;
  const verify = await oneToken(server, fixture);
  const calls = [
    { name: "grpc-ceiling", method: "/grpc.health.v1.Health/Check", what: "do-nothing RPC (Health/Check)", body: toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema)) },
    {
      name: "grpc-verify",
      method: "/iam.v1.TokenService/VerifyToken",
      what: "VerifyToken, one token",
      body: verify.request,
    },
  ];
  for (const call of calls) {
    for (const connections of s.channels) {
      const base = {
        method: call.method,
        body: grpcFrame(call.body),
        connections,
        streams: Math.max(1, Math.round(s.inFlight / connections)),
        warmupSeconds: s.timing.warmupSeconds,
        runSeconds: s.timing.runSeconds,
        dir: bench.dir,
      };
      const load = `h2load ${call.name}-${connections}ch`;
      const onCore = await h2load({ ...base, address: server.grpc, runs: s.ceilingTiming.runs });
      const onCanned = await h2load({ ...base, address: bench.cannedGrpc, runs: s.ceilingTiming.runs });
      const measured = (r: typeof onCore): Measured => ({ rate: r.rate, requestRate: r.rate, p50: Number.NaN, p99: Number.NaN, loadCpu: Number.NaN, errors: r.errors, runs: r.runs });
      const what = `h2load (C, nghttp2): ${call.what}, ${connections} connection${connections === 1 ? "" : "s"} × ${base.streams} streams (cross-check)`;
      bench.rows.push({ ...measured(onCore), name: load.replace(" ", "-"), what, unit: "calls/s", server: "iam-core", generator: "h2load", load });
      bench.ceilings.push({ ...measured(onCanned), load, target: "canned gRPC answers (node:http2, one process)" });
      process.stderr.write(`  ${load}: ${Math.round(onCore.rate)} calls/s (mean ${onCore.meanMs.toFixed(1)} ms); its ceiling ${Math.round(onCanned.rate)}\n`);
    }
  }
}
