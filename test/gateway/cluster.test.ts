/**
 * IAM_WORKERS: several processes serving the same ports on one database, as
 * `npm start` runs them. Connections are handed to the workers in turn, so a
 * run of fresh connections reaches every worker; the log names the worker of
 * each line, which is how these tests know who answered.
 */
import { existsSync, readFileSync } from "node:fs";
import http from "node:http";
import net, { type AddressInfo } from "node:net";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import test from "ava";
import { decodeProtectedHeader } from "jose";
import { createAccessTokenVerifier } from "../../client/index.js";
import { AdminService } from "../../gen/iam/v1/admin_pb.js";
import { AuditAction, AuditService } from "../../gen/iam/v1/audit_pb.js";
import { ADMIN, entry, request, startCluster, workersThatServed } from "./_cluster.js";

const PREFIX = "/services/oauth2/iam-admins/iam-admins";

const clientCredentials = (port: number, agent?: http.Agent) =>
  request(port, `${PREFIX}/token`, { form: { grant_type: "client_credentials" }, basic: [ADMIN.id, ADMIN.secret], agent });

const introspect = (port: number, token: string) =>
  request(port, `${PREFIX}/introspect`, { form: { token }, basic: [ADMIN.id, ADMIN.secret] });

test("each worker runs with the bounded heap settings, except a heap flag the operator gave the server, on its command line or in NODE_OPTIONS", async (t) => {
  const c = startCluster({ NODE_OPTIONS: "--max-semi-space-size=16" }, ["--heap_growing_percent=80"]);
  t.teardown(c.kill);
  const { http: port } = await c.up;
  const workers = c.workers();
  t.is(workers.length, 2);
  for (const pid of workers) {
    const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    t.false(argv.includes("--max-semi-space-size=8"), `NODE_OPTIONS sets the semi-space size, which the command line would override: ${argv.join(" ")}`);
    t.false(argv.includes("--heap-growing-percent=50"), "the operator's growing percent stands alone");
    t.true(argv.includes("--heap_growing_percent=80"));
  }
  const res = await clientCredentials(port);
  t.is(res.status, 200, res.body);
});

test("without heap flags of the operator's, each worker runs with the bounded heap settings", async (t) => {
  const c = startCluster({});
  t.teardown(c.kill);
  await c.up;
  for (const pid of c.workers()) {
    const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    t.true(argv.includes("--max-semi-space-size=8") && argv.includes("--heap-growing-percent=50"), argv.join(" "));
    t.true(argv.indexOf("--heap-growing-percent=50") < argv.indexOf(entry), "flags come before the script");
  }
});

test("an audit stream held on one worker gets the events both workers commit, within a second each, in order, without gaps or duplicates", async (t) => {
  const c = startCluster({ IAM_LOGIN_FAILURE_DELAY_MS: "0" });
  t.teardown(c.kill);
  const { http: port, grpc } = await c.up;
  const token = (JSON.parse((await clientCredentials(port)).body) as { access_token: string }).access_token;
  const audit = createClient(AuditService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${grpc}` }));
  const chain = { organization: "iam-admins", project: "iam-admins" };
  const { events: past } = await audit.listEvents({ ...chain, pageSize: 1000 }, { headers: { authorization: `Bearer ${token}` } });
  const abort = new AbortController();
  t.teardown(() => abort.abort());
  const seen: { sequence: bigint; at: number; target: string }[] = [];
  const streaming = (async () => {
    try {
      for await (const { event } of audit.streamEvents(
        { ...chain, afterSequence: past.at(-1)?.sequence ?? 0n, actions: [AuditAction.SIGN_IN] },
        { headers: { authorization: `Bearer ${token}` }, signal: abort.signal },
      )) {
        seen.push({ sequence: event!.sequence, at: Date.now(), target: event!.target!.id });
      }
    } catch {
      // ended by the test
    }
  })();
  // Failed sign-ins, each over fresh connections: the workers take turns.
  const committed: number[] = [];
  for (let i = 0; i < 6; i++) {
    const start = await request(port, `${PREFIX}/authorize?response_type=code&client_id=admin-client&state=s&redirect_uri=${encodeURIComponent(`http://localhost:${port}${PREFIX}/redirect`)}`, { method: "GET" });
    const requestId = /name="request_id" value="([^"]*)"/.exec(start.body)?.[1];
    t.truthy(requestId, start.body.slice(0, 200));
    // The browser binding cookie of the page, sent back with the form (a new connection: maybe the other worker).
    const cookie = String(start.headers["set-cookie"]?.find((c) => c.startsWith("iam_browser="))?.split(";")[0]);
    const login = await request(port, `${PREFIX}/authorize`, { form: { request_id: requestId!, username: `nobody-${i}`, password: "wrong-password" }, headers: { cookie } });
    t.is(login.status, 401);
    committed.push(Date.now());
  }
  const started = Date.now();
  while (seen.length < 6 && Date.now() - started < 5_000) await new Promise((resolve) => setTimeout(resolve, 20));
  abort.abort();
  await streaming;
  t.deepEqual(seen.map((e) => e.target), Array.from({ length: 6 }, (_, i) => `nobody-${i}`), "every event, once, in order");
  for (let i = 1; i < seen.length; i++) t.is(seen[i]!.sequence, seen[i - 1]!.sequence + 1n, "no gap: nothing else was signed in");
  for (let i = 0; i < 6; i++) t.true(seen[i]!.at - committed[i]! < 1_000, `event ${i} arrived ${seen[i]!.at - committed[i]!} ms after its answer`);
  t.deepEqual(workersThatServed(c.lines(), `${PREFIX}/authorize`), [0, 1], "both workers signed in");
});

test("two workers share both ports and the database: a token from one verifies on the other, a revocation and a key rotation through one hold on both at once", async (t) => {
  const c = startCluster({});
  t.teardown(c.kill);
  const { http: port, grpc, management } = await c.up;
  t.is(c.workers().length, 2, "two worker processes");

  // Tokens over fresh connections: each worker issues some.
  const tokens: string[] = [];
  for (let i = 0; i < 6; i++) {
    const res = await clientCredentials(port);
    t.is(res.status, 200, res.body);
    tokens.push((JSON.parse(res.body) as { access_token: string }).access_token);
  }
  // Every token is active on every worker.
  for (const token of tokens) {
    for (let i = 0; i < 2; i++) {
      const res = await introspect(port, token);
      t.is(res.status, 200);
      t.true((JSON.parse(res.body) as { active: boolean }).active);
    }
  }
  t.deepEqual(workersThatServed(c.lines(), `${PREFIX}/token`), [0, 1], "both workers issued tokens");
  t.deepEqual(workersThatServed(c.lines(), `${PREFIX}/introspect`), [0, 1], "both workers verified them");

  // Revoked through one worker: inactive on both, at once.
  const revoked = await request(port, `${PREFIX}/revoke`, { form: { token: tokens[0]! }, basic: [ADMIN.id, ADMIN.secret] });
  t.is(revoked.status, 200);
  for (let i = 0; i < 4; i++) {
    t.false((JSON.parse((await introspect(port, tokens[0]!)).body) as { active: boolean }).active, `after revocation, ${i}`);
  }

  // The signing key rotated through one worker (gRPC, one connection): both
  // sign with the new key at once, and both verify the other's tokens.
  const admin = createClient(AdminService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${grpc}` }));
  const token = (JSON.parse((await clientCredentials(port)).body) as { access_token: string }).access_token;
  const { kid } = await admin.rotateSigningKey(
    { organization: "iam-admins", project: "iam-admins" },
    { headers: { authorization: `Bearer ${token}` } },
  );
  for (let i = 0; i < 4; i++) {
    const fresh = (JSON.parse((await clientCredentials(port)).body) as { access_token: string }).access_token;
    t.is(decodeProtectedHeader(fresh).kid, kid, `token ${i} is signed with the new key`);
    for (let j = 0; j < 2; j++) t.true((JSON.parse((await introspect(port, fresh)).body) as { active: boolean }).active);
  }
  const jwks = JSON.parse((await request(port, `${PREFIX}/.well-known/jwks.json`)).body) as { keys: { kid: string }[] };
  t.is(jwks.keys[0]!.kid, kid);

  // Metrics, on the primary's management port only, are the sum over the workers.
  const before = c.lines().filter((l) => l.msg === "http" && l.path === "/healthz").length;
  for (let i = 0; i < 6; i++) t.is((await request(port, "/healthz")).status, 200);
  const metrics = await request(management, "/metrics");
  t.is(metrics.status, 200);
  const healthz = /iam_http_requests_total\{method="GET",route="\/healthz",status="200"\} (\d+)/.exec(metrics.body);
  t.is(Number(healthz?.[1]), before + 6, metrics.body.slice(0, 400));
});

test("a worker that dies is replaced and the others keep serving; Ctrl-C (SIGINT to the group) stops them all and closes the database", async (t) => {
  const c = startCluster({});
  t.teardown(c.kill);
  const { http: port } = await c.up;
  const [victim, survivor] = c.workers();
  process.kill(victim!, "SIGKILL");
  // Once the primary has seen it die (within milliseconds), it hands new
  // connections to live workers only: every request is answered. (One handed
  // over in the instant the worker died is lost with it.)
  while (!c.lines().some((l) => l.msg === "a worker died; starting another")) await new Promise((r) => setTimeout(r, 5));
  const deadline = Date.now() + 15_000;
  let replaced: number | undefined;
  while (replaced === undefined && Date.now() < deadline) {
    t.is((await clientCredentials(port)).status, 200);
    replaced = c.workers().find((pid) => pid !== victim && pid !== survivor);
    if (replaced === undefined) await new Promise((r) => setTimeout(r, 50));
  }
  t.truthy(replaced, "a new worker was started");
  // The new worker serves too, once ready.
  while (!c.lines().some((l) => l.msg === "a new worker is ready")) await new Promise((r) => setTimeout(r, 20));
  for (let i = 0; i < 4; i++) t.is((await clientCredentials(port)).status, 200);

  process.kill(-c.child.pid!, "SIGINT");
  t.is(await c.exited, 0);
  t.false(existsSync(`${c.db}-wal`), "the WAL was checkpointed into the database and removed: one file to copy");
  t.is(c.lines().filter((l) => l.msg === "stopped").length, 3, "both workers and the primary");
});

test("each worker enforces its share of a client's token rate: one connection gets half the burst, fresh connections the whole", async (t) => {
  const c = startCluster({ IAM_TOKEN_RATE_PER_CLIENT: "1", IAM_TOKEN_RATE_BURST: "4" });
  t.teardown(c.kill);
  const { http: port } = await c.up;

  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  const one = [];
  for (let i = 0; i < 3; i++) one.push(await clientCredentials(port, agent));
  t.deepEqual(
    one.map((r) => r.status),
    [200, 200, 429],
    "a burst of 4 over two workers: 2 on a connection's worker",
  );
  t.truthy(one[2]!.headers["retry-after"]);
  t.is((JSON.parse(one[2]!.body) as { error: string }).error, "temporarily_unavailable");

  // Fresh connections reach the other worker too: its 2 are still there. Never
  // more than the configured burst in all (one more may have refilled).
  const fresh = [];
  for (let i = 0; i < 8; i++) fresh.push((await clientCredentials(port)).status);
  const accepted = fresh.filter((s) => s === 200).length;
  t.true(accepted >= 2 && accepted <= 3, `accepted ${accepted} of 8: ${fresh.join(" ")}`);
  t.true(fresh.every((s) => s === 200 || s === 429));
});

test("a worker that cannot start stops the server with exit code 1 and says why", async (t) => {
  const taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
  t.teardown(() => taken.close());
  const port = (taken.address() as AddressInfo).port;
  const c = startCluster({ IAM_HTTP_PORT: String(port) });
  t.teardown(c.kill);
  await t.throwsAsync(c.up);
  t.is(await c.exited, 1);
  t.true(c.lines().some((l) => l.msg === "a worker could not start; stopping"), c.output().stderr);
});

test("a resource server's verifier spreads its calls over its connections, so both workers answer them; one connection keeps one worker", async (t) => {
  const c = startCluster({});
  t.teardown(c.kill);
  const { grpc } = await c.up;
  const token = (JSON.parse((await clientCredentials((await c.up).http)).body) as { access_token: string }).access_token;
  const ref = { organization: "iam-admins", project: "iam-admins" };
  /** The workers whose log has a VerifyToken line since `from`. */
  const verifiedBy = (from: number) =>
    [...new Set(c.lines().slice(from).filter((l) => l.rpc === "iam.v1.TokenService/VerifyToken").map((l) => l.worker))].sort();

  let from = c.lines().length;
  const spread = createAccessTokenVerifier({ coreUrl: `http://127.0.0.1:${grpc}`, ...ref });
  for (let i = 0; i < 8; i++) t.true((await spread(token)).active);
  // The log is written at the end of a turn of each worker's event loop.
  while (c.lines().slice(from).filter((l) => l.rpc === "iam.v1.TokenService/VerifyToken").length < 8) await new Promise((r) => setTimeout(r, 10));
  t.deepEqual(verifiedBy(from), [0, 1], "the default connections reach both workers");

  from = c.lines().length;
  const single = createAccessTokenVerifier({ coreUrl: `http://127.0.0.1:${grpc}`, ...ref, connections: 1 });
  for (let i = 0; i < 8; i++) t.true((await single(token)).active);
  while (c.lines().slice(from).filter((l) => l.rpc === "iam.v1.TokenService/VerifyToken").length < 8) await new Promise((r) => setTimeout(r, 10));
  t.is(verifiedBy(from).length, 1, "one connection, one worker");
});
