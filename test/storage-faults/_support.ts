/**
 * What the storage-fault suites share: readiness and gRPC health as a load
 * balancer reads them, a Watch that records every status it is sent, and the
 * writes and reads a fault is checked against (a client_credentials token at
 * the gateway, an AdminService CreateUser over gRPC, the JWKS, an
 * introspection). Not a test file itself.
 */
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { ExecutionContext } from "ava";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../../gen/grpc/health/v1/health_pb.js";
import { AdminService } from "../../gen/iam/v1/admin_pb.js";
import { ADMIN_CLIENT_SECRET, DEFAULT, DEFAULT_REDIRECT, pkcePair, type TestServer } from "../helpers.js";

export { Status };
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The Retry-After a request refused for a storage fault is given (core/store/faults.ts). */
export const RETRY_AFTER = "5";

/** The readiness endpoint, as a load balancer calls it: its status and body. */
export async function readiness(s: TestServer): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${s.httpUrl}/readyz`);
  return { status: res.status, body: await res.json() };
}

/** Waits until `condition` holds, checking every 100 ms; false if it did not within `ms`. */
export async function until(condition: () => Promise<boolean> | boolean, ms = 30_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await sleep(100);
  }
  return condition();
}

/** The core's gRPC health service, over a real gRPC connection. */
export function healthOf(s: TestServer): Client<typeof Health> {
  return createClient(Health, createGrpcTransport({ baseUrl: s.grpcUrl }));
}

/** The AdminService over a real gRPC connection. */
export function adminOf(s: TestServer): Client<typeof AdminService> {
  return createClient(AdminService, createGrpcTransport({ baseUrl: s.grpcUrl }));
}

/** A Watch of the server's overall health ("") that keeps every status it is sent until the test ends. */
export function watchHealth(t: ExecutionContext, s: TestServer): Status[] {
  const seen: Status[] = [];
  const abort = new AbortController();
  const watching = (async () => {
    try {
      for await (const update of healthOf(s).watch({ service: "" }, { signal: abort.signal })) seen.push(update.status);
    } catch (err) {
      if (!(err instanceof ConnectError && err.code === Code.Canceled)) throw err;
    }
  })();
  t.teardown(async () => {
    abort.abort();
    await watching.catch(() => {});
  });
  return seen;
}

/** client_credentials for admin-client at the gateway's token endpoint: a write (its grant, its audit event). */
export function tokenRequest(s: TestServer): Promise<Response> {
  return fetch(`${s.project}/token`, {
    method: "POST",
    headers: {
      authorization: `Basic ${Buffer.from(`admin-client:${ADMIN_CLIENT_SECRET}`).toString("base64")}`,
      "content-type": "application/x-www-form-urlencoded",
    },
    body: "grant_type=client_credentials",
  });
}

/** An access token of admin-client (global administration), issued while the database can be written. */
export async function adminToken(t: ExecutionContext, s: TestServer): Promise<string> {
  const res = await tokenRequest(s);
  t.is(res.status, 200, "a token is issued while the database can be written");
  return ((await res.json()) as { access_token: string }).access_token;
}

/** AdminService CreateUser of `userId` in the default project. */
export function createUser(s: TestServer, token: string, userId: string) {
  return adminOf(s).createUser({ ...DEFAULT, userId, name: userId, password: `${userId}-password-long-enough` }, { headers: { authorization: `Bearer ${token}` } });
}

/** Introspection (RFC 7662) of `token` by admin-client: a read. */
export async function introspect(s: TestServer, token: string): Promise<{ status: number; body: { active?: boolean } }> {
  const res = await fetch(`${s.project}/introspect`, {
    method: "POST",
    headers: {
      authorization: `Basic ${Buffer.from(`admin-client:${ADMIN_CLIENT_SECRET}`).toString("base64")}`,
      "content-type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams({ token }).toString(),
  });
  return { status: res.status, body: (await res.json()) as { active?: boolean } };
}

/** What every write refused for a storage fault answers at the gateway's token endpoint: 503, Retry-After, temporarily_unavailable. */
export async function assertTokenUnavailable(t: ExecutionContext, s: TestServer): Promise<void> {
  const res = await tokenRequest(s);
  t.is(res.status, 503, "a token request that cannot be written answers 503");
  t.is(res.headers.get("retry-after"), RETRY_AFTER);
  t.is(res.headers.get("cache-control"), "no-store");
  const body = (await res.json()) as { error: string; error_description: string };
  t.is(body.error, "temporarily_unavailable");
  t.notRegex(body.error_description, /SQLITE|postgres|ECONN|read-only transaction/i, "the database's own error is not shown");
}

/** What a CreateUser refused for a storage fault answers over gRPC: UNAVAILABLE, with when to try again. */
export async function assertCreateUserUnavailable(t: ExecutionContext, s: TestServer, token: string, userId: string): Promise<void> {
  const err = await t.throwsAsync(createUser(s, token, userId), { instanceOf: ConnectError });
  t.is(err?.code, Code.Unavailable, `CreateUser answers UNAVAILABLE (got ${err === undefined ? "nothing" : Code[err.code]}: ${err?.rawMessage})`);
  t.is(err?.metadata.get("retry-after"), RETRY_AFTER);
  t.is(err?.metadata.get("grpc-retry-pushback-ms"), `${Number(RETRY_AFTER) * 1000}`);
}

/** A browser starting a sign-in (its pending request is a write) is shown a plain page: 503, Retry-After. */
export async function assertPageUnavailable(t: ExecutionContext, s: TestServer): Promise<void> {
  const query = new URLSearchParams({
    response_type: "code",
    client_id: "admin-client",
    redirect_uri: DEFAULT_REDIRECT,
    state: "s",
    code_challenge: pkcePair().challenge,
    code_challenge_method: "S256",
  });
  const res = await fetch(`${s.project}/authorize?${query}`, { headers: { accept: "text/html" }, redirect: "manual" });
  t.is(res.status, 503, "the sign-in page cannot be started: 503");
  t.is(res.headers.get("retry-after"), RETRY_AFTER);
  t.regex(res.headers.get("content-type") ?? "", /^text\/html/);
  t.regex(await res.text(), /temporarily_unavailable/);
}

/** Readiness and gRPC health both say NOT_SERVING. */
export async function assertNotServing(t: ExecutionContext, s: TestServer): Promise<void> {
  t.deepEqual(await readiness(s), { status: 503, body: { status: "not serving" } });
  t.is((await healthOf(s).check({ service: "" })).status, Status.NOT_SERVING);
  t.is((await healthOf(s).check({ service: "iam.v1.TokenService" })).status, Status.NOT_SERVING);
}

/** Readiness and gRPC health come back to SERVING (by a probe write), and the Watch saw the fault begin and end. */
export async function assertRecovered(t: ExecutionContext, s: TestServer, seen: Status[]): Promise<void> {
  t.true(await until(async () => (await readiness(s)).status === 200), "readiness comes back without a restart");
  t.deepEqual(await readiness(s), { status: 200, body: { status: "ready" } });
  t.is((await healthOf(s).check({ service: "" })).status, Status.SERVING);
  t.true(await until(() => seen.length >= 3, 5000));
  t.deepEqual(seen, [Status.SERVING, Status.NOT_SERVING, Status.SERVING], "the Watch was told when the fault began and when it ended");
}

/** The iam_storage_writable gauge, as /metrics renders it. */
export async function writableGauge(s: TestServer): Promise<string | undefined> {
  const registry = s.core.deps.metrics.registry;
  if (registry.getSingleMetric("iam_storage_writable") === undefined) return undefined;
  return /^iam_storage_writable (\d)$/m.exec(await registry.getSingleMetricAsString("iam_storage_writable"))?.[1];
}

/** A server (closed at teardown) with an admin token issued while it can write, and a Watch of its health. */
export async function watched(t: ExecutionContext, s: TestServer): Promise<{ s: TestServer; token: string; seen: Status[] }> {
  t.teardown(() => s.close());
  const token = await adminToken(t, s);
  const seen = watchHealth(t, s);
  t.true(await until(() => seen.length === 1, 5000));
  t.is(await writableGauge(s), "1");
  return { s, token, seen };
}

/**
 * While the fault lasts: writes refused as unavailable, health NOT_SERVING,
 * one log line naming the fault; reads that need no write answered (the JWK
 * Set, introspection of a token issued before), or, where the database cannot
 * even be read, refused as unavailable too, never as a server error.
 */
export async function duringFault(
  t: ExecutionContext,
  s: TestServer,
  token: string,
  expect: { reason: RegExp; reads: "answered" | "unavailable" },
): Promise<void> {
  await assertTokenUnavailable(t, s);
  await assertNotServing(t, s);
  t.is(await writableGauge(s), "0");
  await assertCreateUserUnavailable(t, s, token, "made-during-fault");
  await assertPageUnavailable(t, s);
  const introspected = await introspect(s, token);
  if (expect.reads === "answered") {
    t.is((await fetch(`${s.project}/.well-known/jwks.json`)).status, 200);
    t.deepEqual([introspected.status, introspected.body.active], [200, true], "introspection needs no write");
  } else {
    t.deepEqual([introspected.status, (introspected.body as { error?: string }).error], [503, "temporarily_unavailable"]);
  }
  const faults = s.lines.filter((line) => line.includes("the database cannot be written"));
  t.is(faults.length, 1, "one log line when the fault begins");
  t.regex(faults[0] ?? "", expect.reason);
}

/** After the fault: SERVING again, and the same requests succeed (the refused ones left nothing behind). */
export async function afterFault(t: ExecutionContext, s: TestServer, token: string, seen: Status[]): Promise<void> {
  await assertRecovered(t, s, seen);
  t.is(await writableGauge(s), "1");
  t.is(s.lines.filter((line) => line.includes("the database can be written again")).length, 1);
  t.is((await tokenRequest(s)).status, 200);
  t.is((await createUser(s, token, "made-during-fault")).user?.id, "made-during-fault", "the refused CreateUser, sent again, succeeds");
}
