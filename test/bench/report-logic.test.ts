import test from "ava";
import { grpcFrame, parseH2load } from "../../bench/h2load.mjs";
import { merged, summarize, type Measured } from "../../bench/measure.mjs";
import { applyCeilings, type Row } from "../../bench/results.mjs";
import { curveLines, floors, soakVerdict } from "../../bench/soak-verdict.mjs";
import { median, percentile, slope } from "../../bench/stats.mjs";
import { computeTargets } from "../../bench/targets.mjs";

const measured = (rate: number, extra: Partial<Measured> = {}): Measured => ({ rate, requestRate: rate, p50: 1, p99: 10, loadCpu: 1, errors: 0, runs: [], ...extra });
const row = (name: string, rate: number, extra: Partial<Row> = {}): Row => ({
  ...measured(rate),
  name,
  what: name,
  unit: "requests/s",
  server: "iam-core",
  generator: "autocannon",
  load: name,
  ...extra,
});

test("a median is the middle value, or the mean of the two middle ones", (t) => {
  t.is(median([3, 1, 2]), 2);
  t.is(median([4, 1, 3, 2]), 2.5);
  t.true(Number.isNaN(median([])));
});

test("a percentile is the nearest-rank value: p99 of 1..100 is 99, p50 is 50", (t) => {
  const values = Float64Array.from({ length: 100 }, (_, i) => i + 1);
  t.is(percentile(values, 0.99), 99);
  t.is(percentile(values, 0.5), 50);
  t.is(percentile(values, 1), 100);
  t.is(percentile(new Float64Array(0), 0.99), 0);
});

test("the least-squares slope follows a line and ignores a constant", (t) => {
  t.is(slope([0, 1, 2, 3].map((x) => ({ x, y: 2 * x + 5 }))), 2);
  t.is(slope([0, 1, 2].map((x) => ({ x, y: 7 }))), 0);
  t.is(slope([{ x: 1, y: 1 }]), 0);
});

test("a row whose generator's ceiling is under 3× its rate is marked generator-bound; 3× or more is not", (t) => {
  const rows = applyCeilings(
    [row("client-credentials", 5000), row("introspection", 8000), row("grpc-bare-1ch", 9000, { load: "grpc-ceiling-1ch" }), row("flow", 60)],
    [
      { ...measured(15000), load: "client-credentials", target: "canned" },
      { ...measured(20000), load: "introspection", target: "canned" },
      { ...measured(9000), load: "grpc-ceiling-1ch", target: "canned" },
    ],
  );
  const by = (name: string) => rows.find((r) => r.name === name)!;
  t.is(by("client-credentials").times, 3);
  t.false(by("client-credentials").generatorBound);
  t.is(by("introspection").times, 2.5);
  t.true(by("introspection").generatorBound);
  // Rows of the same load share its ceiling.
  t.is(by("grpc-bare-1ch").times, 1);
  t.true(by("grpc-bare-1ch").generatorBound);
  // No ceiling measured: nothing claimed either way.
  t.is(by("flow").ceiling, undefined);
  t.is(by("flow").generatorBound, undefined);
});

test("targets are ratios of rows of the run, met at their threshold, 'not run' without their rows", (t) => {
  const rows = applyCeilings(
    [
      row("grpc-verify-1ch", 7500),
      row("grpc-bare-1ch", 10000, { server: "grpc-js" }),
      row("client-credentials", 12000),
      row("peer-client-credentials", 8000, { server: "oidc-provider" }),
      row("refresh", 5999),
      row("flow", 75, { p99: 900 }),
      row("introspection", 9000, { p99: 49.9, errors: 2, firstError: "boom" }),
    ],
    [],
  );
  const targets = computeTargets({ rows, hashRate: 100, channels: 4, inFlight: 64, peakPssMb: 301, defaultWorkers: true });
  const find = (start: string) => targets.find((x) => x.target.startsWith(start))!;
  t.deepEqual(find("VerifyToken ≥ 75% of the bare grpc-js server, 1 channel"), { target: "VerifyToken ≥ 75% of the bare grpc-js server, 1 channel", value: "75%", ok: true });
  t.is(find("VerifyToken ≥ 75% of the bare grpc-js server, 4 channels").value, "not run");
  t.is(find("VerifyToken ≥ 75% of the bare grpc-js server, 4 channels").ok, undefined);
  t.deepEqual([find("client_credentials").value, find("client_credentials").ok], ["1.50×", true]);
  t.deepEqual([find("refresh").value, find("refresh").ok], ["50%", false]);
  t.deepEqual([find("full flow").value, find("full flow").ok], ["75%", true]);
  t.deepEqual([find("no errors").value, find("no errors").ok], ["introspection: 2", false]);
  // The flows' latency is a whole sign-in: only the other rows are held to 50 ms.
  t.deepEqual([find("p99").value, find("p99").ok], ["worst 49.9 ms (introspection)", true]);
  t.false(find("memory").ok);
  t.is(find("no memory growth").value, "not run");
  t.true(find("every generator").ok, "rows without a measured ceiling are not marked");
});

test("the audit trail's cost: each hot path's rate with audit events over its rate without, met from 90%", (t) => {
  const rows = [
    row("audit-on-client-credentials", 9000),
    row("audit-off-client-credentials", 10000, { server: "iam-core without audit events" }),
    row("audit-on-refresh", 5000),
    row("audit-off-refresh", 6000, { server: "iam-core without audit events" }),
  ];
  const targets = computeTargets({ rows, channels: 4, inFlight: 64, defaultWorkers: true });
  const find = (scenario: string) => targets.find((x) => x.target.startsWith(`audit events: ${scenario} keeps ≥ 90%`))!;
  t.deepEqual([find("client-credentials").value, find("client-credentials").ok], ["90%", true]);
  t.deepEqual([find("refresh").value, find("refresh").ok], ["83%", false]);
  t.deepEqual([find("flow").value, find("flow").ok], ["not run", undefined]);
});

test("measurements of one load on one target merge into one: the median of every run, every error counted once", (t) => {
  const run = (completed: number, errors: number) => ({ completed, requests: completed, errors, seconds: 1, loadCpu: 1, p50: 1, p99: completed / 100 });
  const a = summarize({ runs: [run(100, 0)], warmupErrors: 2, firstError: "first" });
  const b = summarize({ runs: [run(300, 1)], warmupErrors: 0 });
  const c = summarize({ runs: [run(200, 0)], warmupErrors: 1, firstError: "third" });
  const m = merged([a, b, c]);
  t.is(m.rate, 200);
  t.is(m.p99, 2);
  t.is(m.errors, 4);
  t.is(m.firstError, "first");
  t.is(m.runs.length, 3);
});

test("a target computed from a generator-bound row says so beside its value", (t) => {
  const rows = applyCeilings(
    [row("grpc-verify-1ch", 3000, { load: "grpc-verify-1ch" }), row("grpc-bare-1ch", 5000, { load: "grpc-ceiling-1ch", server: "grpc-js" })],
    [
      { ...measured(12000), load: "grpc-verify-1ch", target: "canned" },
      { ...measured(7000), load: "grpc-ceiling-1ch", target: "canned" },
    ],
  );
  const target = computeTargets({ rows, channels: 4, inFlight: 64, defaultWorkers: true }).find((x) => x.target.endsWith("1 channel"))!;
  t.deepEqual([target.value, target.ok], ["60% (generator-bound? grpc-bare-1ch)", false]);
});

test("memory is not judged against the limit when the server ran with other than its default workers", (t) => {
  const targets = computeTargets({ rows: [], channels: 4, inFlight: 64, peakPssMb: 400, defaultWorkers: false });
  const memory = targets.find((x) => x.target.startsWith("memory"))!;
  t.is(memory.ok, undefined);
  t.regex(memory.value, /not the default workers/);
});

test("the soak's verdict: a sawtooth that settles meets it however high its teeth, a floor that climbs misses it", (t) => {
  const seconds = Array.from({ length: 301 }, (_, i) => i);
  // A collector's sawtooth: 60 MB of garbage gathered over 20 s, then collected.
  const sawtooth = (s: number) => ((s % 20) / 20) * 60;
  const settles = seconds.map((s) => ({ seconds: s, mb: 200 + Math.min(s, 60) / 6 + sawtooth(s) }));
  const ok = soakVerdict(settles);
  t.true(ok.ok, ok.value);
  t.is(ok.floors.length, 8, "eight 30 s windows after the first minute");
  t.true(Math.abs(ok.slopeMbPerMinute) < 0.1);
  t.deepEqual(floors(settles, 60)[0], { seconds: 60, mb: 210 });

  // The same sawtooth on a floor that climbs 3 MB a minute: a leak.
  const climbs = seconds.map((s) => ({ seconds: s, mb: 200 + s / 20 + sawtooth(s) }));
  const leak = soakVerdict(climbs);
  t.false(leak.ok, leak.value);
  t.is(Math.round(leak.slopeMbPerMinute), 3);
  t.true(Math.abs(leak.lastMinuteMb - leak.firstMinuteMb - 12) <= 1.5, "the medians of the first and last minutes are 12 MB apart");

  t.false(soakVerdict([{ seconds: 0, mb: 100 }]).ok, "too short a curve proves nothing");
  t.false(soakVerdict(seconds.slice(0, 120).map((s) => ({ seconds: s, mb: 100 }))).ok, "two minutes give two floors: too few");
});

test("the soak's curve prints one point per step", (t) => {
  const curve = Array.from({ length: 31 }, (_, i) => ({ seconds: i, mb: 100 + i }));
  t.deepEqual(curveLines(curve, 10), ["0s 100 · 10s 110 · 20s 120 · 30s 130"]);
});

test("h2load's summary is read: calls done in the main phase, failures, mean latency", (t) => {
  const out = [
    "finished in 5.00s, 19048.00 req/s, 762.56KB/s",
    "requests: 76192 total, 76192 started, 76190 done, 76180 succeeded, 10 failed, 2 errored, 1 timeout",
    "time for request:      555us     97.79ms      3.31ms      3.76ms    92.96%",
  ].join("\n");
  t.deepEqual(parseH2load(out), { done: 76180, failed: 13, seconds: 5, meanMs: 3.31 });
  t.throws(() => parseH2load("nothing"), { message: /unexpected output/ });
});

test("a unary gRPC request body is the 5-byte prefix (uncompressed, big-endian length) and the message", (t) => {
  t.deepEqual([...grpcFrame(new Uint8Array([8, 1]))], [0, 0, 0, 0, 2, 8, 1]);
});
