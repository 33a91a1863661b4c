/**
 * The optional cross-check of the gRPC rows: h2load (nghttp2's HTTP/2 load
 * generator, in C; Debian's nghttp2-client) sending the same unary gRPC
 * request over and over. It spends far less CPU per call than a grpc-js
 * client, so on a shared 2-core machine it shows how much of a gRPC row's
 * rate the Node client itself cost. It reads only the HTTP status, not the
 * grpc-status trailer: each request is first made once with grpc-js and its
 * answer checked. It reports no percentiles, only a mean.
 */
import { spawn, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { encodeEnvelope } from "@connectrpc/connect/protocol";
import path from "node:path";
import type { RunResult } from "./load/plan.mjs";
import { median } from "./stats.mjs";

export function h2loadInstalled(): boolean {
  return spawnSync("h2load", ["--version"], { stdio: "ignore" }).status === 0;
}

/** A unary gRPC message as sent on the wire: Connect's envelope (flag 0, uncompressed; the 4-byte length). */
export function grpcFrame(message: Uint8Array): Buffer {
  return Buffer.from(encodeEnvelope(0, message));
}

/** What h2load printed: completed requests, failures, the length of the main phase. */
export function parseH2load(out: string): { done: number; failed: number; seconds: number; meanMs: number } {
  const finished = /finished in ([\d.]+)s/.exec(out);
  const requests = /requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(out);
  const mean = /time for request:\s+\S+\s+\S+\s+(\S+)/.exec(out);
  if (finished === null || requests === null) throw new Error(`h2load: unexpected output ${out.slice(-400)}`);
  const ms = (v: string | undefined) => (v === undefined ? Number.NaN : v.endsWith("us") ? Number.parseFloat(v) / 1000 : v.endsWith("ms") ? Number.parseFloat(v) : Number.parseFloat(v) * 1000);
  return {
    done: Number(requests[2]),
    failed: Number(requests[3]) + Number(requests[4]) + Number(requests[5]),
    seconds: Number(finished[1]),
    meanMs: ms(mean?.[1]),
  };
}

function h2loadOnce(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("h2load", args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (out += c.toString()));
    child.on("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`h2load exited with ${code}: ${out.slice(-400)}`))));
  });
}

export interface H2loadPlan {
  /** host:port of the gRPC server. */
  address: string;
  /** /package.Service/Method */
  method: string;
  body: Buffer;
  connections: number;
  /** Streams in flight on each connection. */
  streams: number;
  warmupSeconds: number;
  runSeconds: number;
  runs: number;
  dir: string;
}

/** Several timed runs (the first after a warm-up), reduced as the other rows are. */
export async function h2load(plan: H2loadPlan): Promise<{ rate: number; meanMs: number; errors: number; runs: RunResult[] }> {
  const file = path.join(plan.dir, `h2load-${plan.method.replaceAll("/", "_")}.bin`);
  writeFileSync(file, plan.body);
  const runs: RunResult[] = [];
  const means: number[] = [];
  for (let i = 0; i < plan.runs; i++) {
    const out = await h2loadOnce([
      ...["-c", String(plan.connections), "-m", String(plan.streams), "-D", String(plan.runSeconds)],
      ...(i === 0 ? [`--warm-up-time=${plan.warmupSeconds}`] : []),
      ...["-d", file, "-H", "content-type: application/grpc", "-H", "te: trailers"],
      `http://${plan.address}${plan.method}`,
    ]);
    const r = parseH2load(out);
    // "finished in" counts the warm-up too; the main phase lasted runSeconds.
    runs.push({ completed: r.done, requests: r.done, errors: r.failed, seconds: plan.runSeconds, loadCpu: Number.NaN, p50: Number.NaN, p99: Number.NaN });
    means.push(r.meanMs);
  }
  return {
    rate: median(runs.map((r) => r.completed / r.seconds)),
    meanMs: median(means),
    errors: runs.reduce((n, r) => n + r.errors, 0),
    runs,
  };
}
