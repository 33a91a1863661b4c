/**
 * The management listener in process, as `iam start`, `iam core` and
 * `iam gateway` each run it (bin/management.ts): the metrics, liveness and
 * readiness on a port of their own, and `GET /metrics` nowhere else.
 */
import http2 from "node:http2";
import net from "node:net";
import { createGrpcTransport } from "@connectrpc/connect-node";
import test from "ava";
import { startManagement } from "../../bin/management.js";
import { createLogger } from "../../core/observe/log.js";
import { startTestServer } from "../helpers.js";
import { parsePrometheus, total } from "../observe/_prometheus.js";

const NOT_FOUND = { error: "not_found", error_description: "no such endpoint" };
const logger = createLogger("silent");

test("GET /metrics is on the management listener only: the gateway's port and the core's (HTTP/1.1 and HTTP/2) answer 404", async (t) => {
  const s = await startTestServer();
  t.teardown(() => s.close());
  t.is((await fetch(`${s.httpUrl}/healthz`)).status, 200);

  const metrics = await fetch(`${s.managementUrl}/metrics`);
  t.is(metrics.status, 200);
  t.regex(metrics.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  t.is(metrics.headers.get("cache-control"), "no-store");
  const page = parsePrometheus(await metrics.text());
  // The public port's requests are counted here.
  t.is(total(page, "iam_http_requests_total", { method: "GET", route: "/healthz", status: "200" }), 1);

  const gateway = await fetch(`${s.httpUrl}/metrics`);
  t.is(gateway.status, 404);
  t.deepEqual(await gateway.json(), NOT_FOUND);
  const core = await fetch(`${s.grpcUrl}/metrics`);
  t.is(core.status, 404);
  t.deepEqual(await core.json(), NOT_FOUND);
  const overHttp2 = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const session = http2.connect(s.grpcUrl);
    const stream = session.request({ ":path": "/metrics" });
    let status = 0;
    let body = "";
    stream.on("response", (headers) => (status = Number(headers[":status"])));
    stream.on("data", (chunk: Buffer) => (body += chunk.toString()));
    stream.on("end", () => {
      session.close();
      resolve({ status, body });
    });
    stream.on("error", reject);
  });
  t.is(overHttp2.status, 404);
  t.deepEqual(JSON.parse(overHttp2.body), NOT_FOUND);
  // Nothing else of the public surface is served on the management port.
  const token = await fetch(`${s.managementUrl}/services/oauth2/iam-admins/iam-admins/.well-known/openid-configuration`);
  t.is(token.status, 404);
  t.deepEqual(await token.json(), NOT_FOUND);
});

test("the management listener's /healthz answers while the process runs, its /readyz 200 while the core serves and 503 from the drain on", async (t) => {
  const s = await startTestServer();
  t.teardown(() => s.close());
  const live = await fetch(`${s.managementUrl}/healthz`);
  t.is(live.status, 200);
  t.deepEqual(await live.json(), { status: "ok" });
  const ready = await fetch(`${s.managementUrl}/readyz`);
  t.is(ready.status, 200);
  t.deepEqual(await ready.json(), { status: "ready" });

  s.core.health.drain();
  const draining = await fetch(`${s.managementUrl}/readyz`);
  t.is(draining.status, 503);
  t.deepEqual(await draining.json(), { status: "not serving" });
  t.is((await fetch(`${s.managementUrl}/healthz`)).status, 200);
});

test("before it is told what serves, and once drained, the management listener is live but not ready", async (t) => {
  const s = await startTestServer();
  t.teardown(() => s.close());
  const m = await startManagement({ host: "127.0.0.1", port: 0 }, { logger });
  t.teardown(() => m.close(0));
  const origin = `http://127.0.0.1:${m.port}`;
  t.is((await fetch(`${origin}/healthz`)).status, 200);
  t.is((await fetch(`${origin}/readyz`)).status, 503, "the core is not open yet");
  m.healthFrom(createGrpcTransport({ baseUrl: s.grpcUrl }));
  t.is((await fetch(`${origin}/readyz`)).status, 200);
  m.drain();
  t.is((await fetch(`${origin}/readyz`)).status, 503);
  // A drained listener stays not ready, whatever it is told after.
  m.healthFrom(createGrpcTransport({ baseUrl: s.grpcUrl }));
  t.is((await fetch(`${origin}/readyz`)).status, 503);
});

test("the gateway alone: its management readiness is the core's, and 503 core unreachable when it cannot reach one", async (t) => {
  const s = await startTestServer();
  t.teardown(() => s.close());
  const reachable = await startManagement({ host: "127.0.0.1", port: 0 }, { transport: createGrpcTransport({ baseUrl: s.grpcUrl }), logger });
  t.teardown(() => reachable.close(0));
  t.is((await fetch(`http://127.0.0.1:${reachable.port}/readyz`)).status, 200);

  // A port that was free a moment ago, below the kernel's ephemeral range (32768 and up): no
  // listen(0), here or in another test, is handed it afterwards, so nothing answers there.
  const gone = await freeFixedPort();
  const unreachable = await startManagement({ host: "127.0.0.1", port: 0 }, { transport: createGrpcTransport({ baseUrl: `http://127.0.0.1:${gone}` }), logger });
  t.teardown(() => unreachable.close(0));
  const answer = await fetch(`http://127.0.0.1:${unreachable.port}/readyz`);
  t.is(answer.status, 503);
  t.deepEqual(await answer.json(), { status: "core unreachable" });
  t.is((await fetch(`http://127.0.0.1:${unreachable.port}/healthz`)).status, 200);
});

test("with IAM_METRICS=false the management listener answers 404 at /metrics and still serves /healthz and /readyz", async (t) => {
  const s = await startTestServer();
  t.teardown(() => s.close());
  const m = await startManagement({ host: "127.0.0.1", port: 0 }, { transport: createGrpcTransport({ baseUrl: s.grpcUrl }), logger });
  t.teardown(() => m.close(0));
  const metrics = await fetch(`http://127.0.0.1:${m.port}/metrics`);
  t.is(metrics.status, 404);
  const body = await metrics.text();
  t.deepEqual(JSON.parse(body), NOT_FOUND);
  t.false(body.includes("iam_"));
  t.is((await fetch(`http://127.0.0.1:${m.port}/healthz`)).status, 200);
  t.is((await fetch(`http://127.0.0.1:${m.port}/readyz`)).status, 200);
});

test("the management listener listens on the interface it is given only, and a taken port is a start failure naming the variables", async (t) => {
  // 127.0.0.2 is loopback too on Linux: a listener on it is not on 127.0.0.1.
  const m = await startManagement({ host: "127.0.0.2", port: 0 }, { logger });
  t.teardown(() => m.close(0));
  t.is((await fetch(`http://127.0.0.2:${m.port}/healthz`)).status, 200);
  await t.throwsAsync(fetch(`http://127.0.0.1:${m.port}/healthz`));

  const err = await t.throwsAsync(startManagement({ host: "127.0.0.2", port: m.port }, { logger }));
  t.is((err as Error & { code?: string }).code, "EADDRINUSE");
  t.regex(err!.message, new RegExp(`^the management listener cannot listen on 127\\.0\\.0\\.2:${m.port} \\(IAM_MANAGEMENT_HOST, IAM_MANAGEMENT_PORT\\): `));
});

/** A free port below the ephemeral range, which listen(0) never hands out. */
async function freeFixedPort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const probe = net.createServer();
    const free = await new Promise<boolean>((resolve) => {
      probe.once("error", () => resolve(false));
      probe.listen(port, "127.0.0.1", () => resolve(true));
    });
    if (!free) continue;
    await new Promise((resolve) => probe.close(resolve));
    return port;
  }
}
