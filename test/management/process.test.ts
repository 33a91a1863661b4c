/**
 * The management listener of `iam start` as `npm start` runs it: one process
 * (IAM_WORKERS=1) and two workers, where the primary alone listens on the
 * management port and answers for both.
 */
import { existsSync, readdirSync } from "node:fs";
import net, { type AddressInfo } from "node:net";
import { dirname } from "node:path";
import test from "ava";
import { compiledIam } from "../helpers.js";
import { parsePrometheus, total } from "../observe/_prometheus.js";
import { request, slowRequest, startCluster, workersThatServed } from "../gateway/_cluster.js";

test.before(() => void compiledIam());

const NOT_FOUND = { error: "not_found", error_description: "no such endpoint" };
const TOKEN_PATH = "/services/oauth2/iam-admins/iam-admins/token";
const CLIENT = { "content-type": "application/x-www-form-urlencoded", authorization: `Basic ${Buffer.from("admin-client:cluster-admin-secret-0123456789").toString("base64")}` };

/** A port on 127.0.0.1 held by another listener for the test's length. */
async function takenPort(t: { teardown(fn: () => void): void }): Promise<number> {
  const taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
  t.teardown(() => taken.close());
  return (taken.address() as AddressInfo).port;
}

for (const workers of ["1", "2"]) {
  test(`IAM_WORKERS=${workers}: GET /metrics answers on the management port, summed over the workers, and 404 on the gateway's and the core's`, async (t) => {
    const c = startCluster({ IAM_WORKERS: workers });
    t.teardown(c.kill);
    const { http, grpc, management } = await c.up;
    // Fresh connections: with two workers, each gets some of them.
    for (let i = 0; i < 8; i++) t.is((await request(http, "/healthz")).status, 200);
    if (workers === "2") t.deepEqual(workersThatServed(c.lines(), "/healthz"), [0, 1]);

    const metrics = await request(management, "/metrics");
    t.is(metrics.status, 200);
    t.regex(String(metrics.headers["content-type"]), /^text\/plain; version=0\.0\.4/);
    t.is(total(parsePrometheus(metrics.body), "iam_http_requests_total", { method: "GET", route: "/healthz", status: "200" }), 8);
    for (const port of [http, grpc]) {
      const elsewhere = await request(port, "/metrics");
      t.is(elsewhere.status, 404, `port ${port}`);
      t.deepEqual(JSON.parse(elsewhere.body), NOT_FOUND);
    }
    t.deepEqual(JSON.parse((await request(management, "/readyz")).body), { status: "ready" });
    t.deepEqual(JSON.parse((await request(management, "/healthz")).body), { status: "ok" });
    // Its address is logged as the other listeners' are: on 127.0.0.1 unless told otherwise.
    t.true(c.lines().some((l) => l.msg === "management listening" && l.url === `http://127.0.0.1:${management}`));
    await t.throwsAsync(request(management, "/healthz", { host: "127.0.0.2" }), undefined, "nothing listens on the other loopback address");
  });

  test(`IAM_WORKERS=${workers}: readiness on the management port is 503 while the server drains, and liveness 200`, async (t) => {
    const c = startCluster({ IAM_WORKERS: workers, IAM_SHUTDOWN_GRACE: "5" });
    t.teardown(c.kill);
    const { http, management } = await c.up;
    t.is((await request(management, "/readyz")).status, 200);
    // A request in flight holds the drain open for up to IAM_SHUTDOWN_GRACE.
    const held = slowRequest(http, TOKEN_PATH, "grant_type=client_credentials", CLIENT);
    await new Promise((r) => setTimeout(r, 300));
    process.kill(c.child.pid!, "SIGTERM");
    // Until the drain has begun, readiness may still say ready.
    let ready = await request(management, "/readyz");
    for (let i = 0; i < 50 && ready.status === 200; i++) {
      await new Promise((r) => setTimeout(r, 50));
      ready = await request(management, "/readyz");
    }
    t.is(ready.status, 503);
    t.deepEqual(JSON.parse(ready.body), { status: "not serving" });
    t.is((await request(management, "/healthz")).status, 200);
    held.finish();
    const answer = await held.answer;
    t.false(answer instanceof Error, String(answer));
    if (!(answer instanceof Error)) t.is(answer.status, 200, answer.body);
    t.is(await c.exited, 0);
  });

  test(`IAM_WORKERS=${workers}: a taken management port stops the start as a taken gateway port does, before the database is made`, async (t) => {
    const port = await takenPort(t);
    const gateway = startCluster({ IAM_WORKERS: workers, IAM_HTTP_PORT: String(port) });
    t.teardown(gateway.kill);
    await t.throwsAsync(gateway.up);
    const taken = startCluster({ IAM_WORKERS: workers, IAM_MANAGEMENT_PORT: String(port) });
    t.teardown(taken.kill);
    await t.throwsAsync(taken.up);
    t.is(await taken.exited, await gateway.exited);
    t.not(await taken.exited, 0);
    t.regex(taken.output().stderr, new RegExp(`iam: could not start: the management listener cannot listen on 127\\.0\\.0\\.1:${port} \\(IAM_MANAGEMENT_HOST, IAM_MANAGEMENT_PORT\\): .*EADDRINUSE`));
    t.false(existsSync(taken.db), "no database was made");
    t.deepEqual(readdirSync(dirname(taken.db)), []);
  });
}

test("IAM_MANAGEMENT_HOST is honoured: the management port listens there and not on 127.0.0.1; IAM_METRICS=false leaves it /healthz and /readyz", async (t) => {
  const c = startCluster({ IAM_WORKERS: "1", IAM_MANAGEMENT_HOST: "127.0.0.2", IAM_METRICS: "false" });
  t.teardown(c.kill);
  const { management } = await c.up;
  t.is((await request(management, "/healthz", { host: "127.0.0.2" })).status, 200);
  t.is((await request(management, "/readyz", { host: "127.0.0.2" })).status, 200);
  await t.throwsAsync(request(management, "/healthz"));
  const metrics = await request(management, "/metrics", { host: "127.0.0.2" });
  t.is(metrics.status, 404);
  t.false(metrics.body.includes("iam_"));
  t.true(c.lines().some((l) => l.msg === "management listening" && l.url === `http://127.0.0.2:${management}`));
});

test("iam core and iam gateway each have a management listener; the gateway's readiness is the core's, 503 once it cannot reach one", async (t) => {
  const core = startCluster({ IAM_WORKERS: "1" }, [], "core");
  t.teardown(core.kill);
  const { grpc, management: coreManagement } = await core.up;
  const gateway = startCluster({ IAM_WORKERS: "1", IAM_CORE_URL: `http://127.0.0.1:${grpc}` }, [], "gateway");
  t.teardown(gateway.kill);
  const { http, management } = await gateway.up;
  t.not(management, coreManagement);

  t.is((await request(http, TOKEN_PATH, { form: { grant_type: "client_credentials" }, basic: ["admin-client", "cluster-admin-secret-0123456789"] })).status, 200);
  // Each process's own series: the gateway's requests at the gateway, the core's RPCs at the core.
  const gatewayPage = parsePrometheus((await request(management, "/metrics")).body);
  t.is(total(gatewayPage, "iam_http_requests_total", { method: "POST", route: "/services/oauth2/:organization/:project/token", status: "200" }), 1);
  const corePage = parsePrometheus((await request(coreManagement, "/metrics")).body);
  t.is(total(corePage, "iam_rpc_requests_total", { method: "iam.v1.TokenService/Token", code: "ok" }), 1);
  t.is((await request(http, "/metrics")).status, 404);
  t.is((await request(grpc, "/metrics")).status, 404);

  t.is((await request(coreManagement, "/readyz")).status, 200);
  t.is((await request(management, "/readyz")).status, 200);
  process.kill(core.child.pid!, "SIGKILL");
  await core.exited;
  const unreachable = await request(management, "/readyz");
  t.is(unreachable.status, 503);
  t.deepEqual(JSON.parse(unreachable.body), { status: "core unreachable" });
  t.is((await request(management, "/healthz")).status, 200);
});
