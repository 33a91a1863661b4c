/**
 * Several core replicas on one PostgreSQL database, as real processes
 * (`iam core`), with a gateway given all of their URLs (`iam gateway`,
 * IAM_CORE_URL=a,b) and a resource server verifying over the same balancing
 * transport. What one replica issues, revokes or rotates holds on the others;
 * one replica killed under load costs no verification and no issued token.
 * The figures (requests, kills, failures, propagation times) are printed
 * with t.log.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import http from "node:http";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import test, { type ExecutionContext } from "ava";
import { decodeProtectedHeader } from "jose";
import { AdminService } from "../../gen/iam/v1/admin_pb.js";
import { AuditService } from "../../gen/iam/v1/audit_pb.js";
import { TokenFailure, TokenService } from "../../gen/iam/v1/token_pb.js";
import { createTokenClient } from "../../client/index.js";
import { createDatabase, postgresSuite } from "../pg.js";

const maybe = postgresSuite("replicas", test.serial);

const entry = fileURLToPath(new URL("../../dist/bin/iam.js", import.meta.url));
const PROJECT = { organization: "iam-admins", project: "iam-admins" };
const PREFIX = "/services/oauth2/iam-admins/iam-admins";
const ADMIN = { id: "admin-client", secret: "replica-admin-secret-0123456789" };
const BASE_URL = "http://iam.replicas.test";

interface Proc {
  port: Promise<number>;
  kill(signal?: NodeJS.Signals): void;
  exited: Promise<number | null>;
  output(): string;
}

function start(t: ExecutionContext, command: "core" | "gateway" | "start", env: Record<string, string>): Proc {
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run npm run build (npm test runs it first)`);
  const child = spawn(process.execPath, [entry, command], {
    env: {
      ...process.env,
      IAM_BASE_URL: BASE_URL,
      IAM_HTTP_PORT: "0",
      IAM_GRPC_PORT: "0",
      IAM_MANAGEMENT_PORT: "0",
      IAM_WORKERS: "1",
      IAM_LOG_LEVEL: "warn",
      IAM_ADMIN_PASSWORD: "replica-admin-password",
      IAM_ADMIN_CLIENT_SECRET: ADMIN.secret,
      IAM_PASSWORD_HASH_MEMORY_KIB: "64",
      IAM_PASSWORD_HASH_ITERATIONS: "1",
      IAM_TOKEN_RATE_PER_CLIENT: "0",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  const port = new Promise<number>((resolve, reject) => {
    child.stdout.on("data", () => {
      const m = /gateway on port (\d+)|core \(gRPC\) on port (\d+)|gateway is up on port (\d+)/.exec(out);
      if (m) resolve(Number(m[1] ?? m[2] ?? m[3]));
    });
    void exited.then((code) => reject(new Error(`iam ${command} exited ${code}: ${out}`)));
  });
  const kill = (signal: NodeJS.Signals = "SIGTERM") => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  t.teardown(async () => {
    kill("SIGKILL");
    await exited;
  });
  return { port, kill, exited, output: () => out };
}

/** Two replicas on a fresh database (the first creates the default tenant), and a gateway calling both. */
async function deployment(t: ExecutionContext) {
  const db = await createDatabase();
  t.teardown(() => db.drop());
  const a = start(t, "core", { IAM_DB: db.url });
  const b = start(t, "core", { IAM_DB: db.url });
  const urls = (await Promise.all([a.port, b.port])).map((p) => `http://127.0.0.1:${p}`);
  const gateway = start(t, "gateway", { IAM_CORE_URL: urls.join(",") });
  const gatewayUrl = `http://127.0.0.1:${await gateway.port}`;
  const direct = urls.map((baseUrl) => createClient(TokenService, createGrpcTransport({ baseUrl })));
  return { db, a, b, urls, gatewayUrl, direct: direct as [typeof direct[0], typeof direct[0]] };
}

const basic = `Basic ${Buffer.from(`${ADMIN.id}:${ADMIN.secret}`).toString("base64")}`;

async function tokenAt(gatewayUrl: string): Promise<{ status: number; token?: string }> {
  const res = await fetch(`${gatewayUrl}${PREFIX}/token`, {
    method: "POST",
    headers: { authorization: basic, "content-type": "application/x-www-form-urlencoded" },
    body: "grant_type=client_credentials",
  });
  const body = (await res.json()) as { access_token?: string };
  return { status: res.status, token: body.access_token };
}

/** A token request on a connection of its own (no keep-alive): the next worker in turn answers it. */
function tokenOnFreshConnection(gatewayUrl: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${gatewayUrl}${PREFIX}/token`, {
      method: "POST",
      agent: false,
      headers: { authorization: basic, "content-type": "application/x-www-form-urlencoded" },
    });
    req.on("response", (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode!));
    });
    req.on("error", reject);
    req.end("grant_type=client_credentials");
  });
}

const clientAuth = { basic: { clientId: ADMIN.id, clientSecret: ADMIN.secret } };
const ms = (started: number) => Math.round((performance.now() - started) * 10) / 10;

maybe("a token issued through one replica verifies on the other; a revocation and a key rotation through one hold on the other", async (t) => {
  const { direct, gatewayUrl, urls } = await deployment(t);
  const [a, b] = direct;

  const issued = await a.token({ ...PROJECT, grantType: "client_credentials", ...clientAuth });
  t.is((await b.verifyToken({ token: issued.accessToken })).failure, TokenFailure.UNSPECIFIED, "A's token verifies on B");
  const viaGateway = await tokenAt(gatewayUrl);
  t.is(viaGateway.status, 200);
  for (const r of direct) t.is((await r.verifyToken({ token: viaGateway.token! })).failure, TokenFailure.UNSPECIFIED);

  // Revocation through A: B reads the grant from the database on every verification.
  const target = await a.token({ ...PROJECT, grantType: "client_credentials", ...clientAuth });
  t.is((await b.verifyToken({ token: target.accessToken })).failure, TokenFailure.UNSPECIFIED);
  await a.revoke({ ...PROJECT, token: target.accessToken, client: clientAuth });
  let started = performance.now();
  let polls = 0;
  while ((await b.verifyToken({ token: target.accessToken })).failure !== TokenFailure.REVOKED) {
    polls++;
    if (performance.now() - started > 5000) t.fail("B still accepts a token revoked through A after 5 s");
  }
  const revocationMs = ms(started);
  t.is(polls, 0, "B's first verification after the revocation already refuses the token");

  // A key rotation through A: B signs with the new key once A's notification reaches it.
  const admin = createClient(AdminService, createGrpcTransport({ baseUrl: urls[0]! }));
  // A fresh token: client_credentials tokens of one client share its grant, which the revocation ended.
  const fresh = await a.token({ ...PROJECT, grantType: "client_credentials", ...clientAuth });
  const bearer = { headers: { authorization: `Bearer ${fresh.accessToken}` } };
  const { kid } = await admin.rotateSigningKey(PROJECT, bearer);
  started = performance.now();
  for (;;) {
    const next = await b.token({ ...PROJECT, grantType: "client_credentials", ...clientAuth });
    if (decodeProtectedHeader(next.accessToken).kid === kid) break;
    if (performance.now() - started > 5000) t.fail("B still signs with the old key 5 s after a rotation through A");
  }
  const rotationMs = ms(started);
  t.log(`revocation through A refused by B's first verification once A answered (${revocationMs} ms); key rotation through A signing on B after ${rotationMs} ms`);
});

maybe("audit events appended by both replicas at once take one place each in their chain, and a stream on one replica gets every one within a second, in order", async (t) => {
  const { gatewayUrl, urls } = await deployment(t);
  const { token } = await tokenAt(gatewayUrl);
  const auth = { headers: { authorization: `Bearer ${token}` } };
  const admins = urls.map((baseUrl) => createClient(AdminService, createGrpcTransport({ baseUrl })));
  const audit = createClient(AuditService, createGrpcTransport({ baseUrl: urls[0]! }));
  const server = { organization: "", project: "" };
  const head = (await audit.listEvents({ ...server, pageSize: 1000 }, auth)).events.at(-1)?.sequence ?? 0n;

  const abort = new AbortController();
  t.teardown(() => abort.abort());
  const seen: { sequence: bigint; target: string; at: number }[] = [];
  const streaming = (async () => {
    try {
      for await (const { event } of audit.streamEvents({ ...server, afterSequence: head }, { ...auth, signal: abort.signal })) {
        seen.push({ sequence: event!.sequence, target: event!.target!.id, at: performance.now() });
      }
    } catch {
      // ended by the test
    }
  })();

  // Refused changes through both replicas at once: each writes its event in the server's chain.
  const answered = new Map<string, number>();
  const refuse = async (replica: number, i: number) => {
    const id = `missing-${replica}-${i}`;
    await t.throwsAsync(admins[replica]!.deleteOrganization({ id }, auth));
    answered.set(id, performance.now());
  };
  await Promise.all([0, 1].flatMap((replica) => Array.from({ length: 10 }, (_, i) => refuse(replica, i))));
  const started = performance.now();
  while (seen.length < 20 && performance.now() - started < 5_000) await new Promise((resolve) => setTimeout(resolve, 20));
  abort.abort();
  await streaming;

  t.deepEqual(seen.map((e) => e.sequence), Array.from({ length: 20 }, (_, i) => head + BigInt(i + 1)), "no gap, no duplicate, in order");
  t.deepEqual(seen.map((e) => e.target).sort(), [...answered.keys()].sort(), "every refused change, once");
  const late = seen.map((e) => e.at - answered.get(e.target)!);
  t.log(`delivered ${Math.round(Math.min(...late))}-${Math.round(Math.max(...late))} ms after the answer`);
  t.true(Math.max(...late) < 1_000);
});

maybe("one replica killed under load: no verification fails and every token handed out still verifies", async (t) => {
  const { a, b, urls, gatewayUrl, direct } = await deployment(t);
  // The resource server's side: both replicas, with failover of verification.
  const verifier = createTokenClient(urls);
  const issued: string[] = [];
  const failures = { token: 0, verify: 0 };
  const tokenErrors = new Map<number, number>();
  let verified = 0;
  let stop = false;
  let killedAt = 0;
  const loop = async () => {
    while (!stop) {
      const got = await tokenAt(gatewayUrl).catch(() => ({ status: 0, token: undefined }));
      if (got.token === undefined) {
        failures.token++;
        tokenErrors.set(got.status, (tokenErrors.get(got.status) ?? 0) + 1);
        continue;
      }
      issued.push(got.token);
      const answer = await verifier.verifyToken({ token: got.token }).catch(() => undefined);
      if (answer?.failure === TokenFailure.UNSPECIFIED) verified++;
      else failures.verify++;
    }
  };
  const loops = Array.from({ length: 8 }, loop);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const beforeKill = issued.length;
  killedAt = performance.now();
  a.kill("SIGKILL");
  await a.exited;
  await new Promise((resolve) => setTimeout(resolve, 2500));
  stop = true;
  await Promise.all(loops);
  const afterKill = issued.length - beforeKill;

  // Every token the gateway handed out verifies on the replica left standing.
  let lost = 0;
  for (const token of issued) if ((await direct[1].verifyToken({ token })).failure !== TokenFailure.UNSPECIFIED) lost++;
  t.log(
    `replicas 2, killed 1 (SIGKILL after ${beforeKill} tokens); tokens issued ${issued.length} (${afterKill} after the kill, ` +
      `${Math.round(afterKill / ((performance.now() - killedAt) / 1000))}/s), verifications ${verified}, failed verifications ${failures.verify}, ` +
      `failed token requests ${failures.token} ${JSON.stringify(Object.fromEntries(tokenErrors))}, lost tokens ${lost}`,
  );
  t.true(beforeKill > 0 && afterKill > 0, "load ran before and after the kill");
  t.is(failures.verify, 0, "no verification failed");
  t.is(lost, 0, "no token handed out was lost");
  // Only a token request in flight on the killed replica can fail (it may have been delivered: not retried).
  t.true(failures.token <= 8, `failed token requests ${failures.token} exceed the requests in flight`);
  // And they are told to come back (503 temporarily_unavailable), not that the server broke.
  t.deepEqual([...tokenErrors.keys()].filter((status) => status !== 503), []);
  t.is(b.output().includes("Error"), false, b.output());
});

maybe("npm start's workers on PostgreSQL: each worker its own connections, both answer, a clean stop", async (t) => {
  const db = await createDatabase();
  t.teardown(() => db.drop());
  const server = start(t, "start", { IAM_DB: db.url, IAM_WORKERS: "2", IAM_LOG_LEVEL: "info" });
  const gatewayUrl = `http://127.0.0.1:${await server.port}`;
  const statuses: number[] = [];
  // Fresh connections are handed to the workers in turn.
  for (let i = 0; i < 6; i++) statuses.push(await tokenOnFreshConnection(gatewayUrl));
  t.deepEqual(statuses, Array(6).fill(200));
  const workers = new Set(
    server
      .output()
      .split("\n")
      .filter((line) => line.includes('"path":"/services/oauth2/iam-admins/iam-admins/token"'))
      .map((line) => (JSON.parse(line) as { worker: number }).worker),
  );
  t.deepEqual([...workers].sort(), [0, 1], "both workers issued tokens");
  server.kill("SIGTERM");
  t.is(await server.exited, 0);
});
