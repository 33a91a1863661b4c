import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import test from "ava";
import { TokenService } from "../../gen/iam/v1/token_pb.js";
import { createLogger } from "../../core/observe/log.js";
import { ADMIN_CLIENT_SECRET, ADMIN_PASSWORD, DEFAULT_REDIRECT, pkcePair, startExtraGateway, type TestServer } from "../helpers.js";
import {
  ADMIN_SCOPE,
  adminBasic,
  adminRequest,
  authorizeUrl,
  basic,
  browserCookie,
  get,
  getJson,
  postForm,
  postJson,
  serve,
  token,
} from "../gateway/_support.js";
import { parsePrometheus, total } from "./_prometheus.js";

interface Line {
  level: string;
  time: string;
  msg: string;
  request_id?: string;
  [field: string]: unknown;
}
const parse = (lines: string[]): Line[] => lines.map((l) => JSON.parse(l) as Line);

/**
 * A whole login flow over HTTP, with a failed login and a failed client
 * authentication on the way; answers every credential it saw or sent.
 */
async function fullFlow(s: TestServer): Promise<{ secrets: string[]; requests: number }> {
  const wrongPassword = `wrong-${crypto.randomUUID()}`;
  const wrongSecret = `bad-secret-${crypto.randomUUID()}`;
  const { verifier, challenge } = pkcePair(`v-${crypto.randomUUID()}-${crypto.randomUUID()}`);
  const params = adminRequest({ scope: `openid ${ADMIN_SCOPE}`, nonce: "n-1", code_challenge: challenge, code_challenge_method: "S256" });
  let requests = 0;
  const count = <T>(p: Promise<T>) => {
    requests++;
    return p;
  };

  const page = await count(get(authorizeUrl(s, params)));
  const cookie = browserCookie(page);
  const start = await count(getJson(authorizeUrl(s, params)));
  const { request_id } = (await start.json()) as { request_id: string };
  const failed = await count(postJson(`${s.project}/authorize`, { request_id, username: "admin", password: wrongPassword }));
  if (failed.status !== 401) throw new Error(`wrong password: ${failed.status}`);
  await count(postJson(`${s.project}/authorize`, { request_id, username: "admin", password: ADMIN_PASSWORD }));
  const consent = await count(postJson(`${s.project}/consent`, { request_id, scopes: ["openid", ADMIN_SCOPE] }));
  const code = new URL(((await consent.json()) as { redirect_to: string }).redirect_to).searchParams.get("code")!;
  const refused = await count(
    token(s, { grant_type: "authorization_code", code, redirect_uri: DEFAULT_REDIRECT, code_verifier: verifier }, basic("admin-client", wrongSecret)),
  );
  if (refused.status !== 401) throw new Error(`wrong secret: ${refused.status}`);
  const exchanged = await count(
    token(s, { grant_type: "authorization_code", code, redirect_uri: DEFAULT_REDIRECT, code_verifier: verifier }, adminBasic()),
  );
  const first = (await exchanged.json()) as { access_token: string; refresh_token: string; id_token: string };
  await count(get(`${s.project}/userinfo`, { authorization: `Bearer ${first.access_token}` }));
  const refreshed = await count(token(s, { grant_type: "refresh_token", refresh_token: first.refresh_token }, adminBasic()));
  const second = (await refreshed.json()) as { access_token: string; refresh_token: string; id_token?: string };
  await count(postForm(`${s.project}/introspect`, { token: second.access_token }, adminBasic()));
  await count(postForm(`${s.project}/revoke`, { token: second.refresh_token }, adminBasic()));
  return {
    secrets: [
      ADMIN_PASSWORD,
      ADMIN_CLIENT_SECRET,
      wrongPassword,
      wrongSecret,
      verifier,
      request_id,
      cookie.split("=")[1]!,
      code,
      first.access_token,
      first.refresh_token,
      first.id_token,
      second.access_token,
      second.refresh_token,
      // A token's signature alone is enough to recognise it.
      first.access_token.split(".")[2]!,
    ],
    requests,
  };
}

test("the logs of a whole flow are JSON lines and hold no password, secret, code, verifier, token or request handle", async (t) => {
  const s = await serve(t);
  const { secrets, requests } = await fullFlow(s);
  // A VerifyToken straight to the core, as a resource server makes it.
  const tokens = createClient(TokenService, createGrpcTransport({ baseUrl: s.grpcUrl }));
  await tokens.verifyToken({ token: secrets[11]! });

  t.true(s.lines.length > requests);
  const lines = parse(s.lines);
  for (const line of lines) {
    t.is(typeof line.time, "string");
    t.true(["debug", "info", "warn", "error"].includes(line.level), line.level);
  }
  const log = s.lines.join("");
  for (const secret of secrets) t.false(log.includes(secret), `a credential reached the log: ${secret.slice(0, 12)}…`);
  t.notRegex(log, /eyJ[A-Za-z0-9_-]{10,}\./, "nothing shaped like a JWT");
  // The failed attempts are on record, with their reason.
  t.true(lines.some((l) => l.msg === "rpc" && l.rpc === "iam.v1.AuthorizationService/Login" && l.error === "access_denied" && String(l.detail).startsWith("wrong password")));
  t.true(lines.some((l) => l.msg === "rpc" && l.rpc === "iam.v1.TokenService/Token" && l.error === "invalid_client"));
  t.false(lines.some((l) => l.level === "error"), "no error line in a normal flow");
});

test("one line per HTTP request and per RPC, with method, status and duration, joined by the request id", async (t) => {
  const s = await serve(t);
  const { requests } = await fullFlow(s);
  const lines = parse(s.lines);
  const http = lines.filter((l) => l.msg === "http");
  const rpcs = lines.filter((l) => l.msg === "rpc");
  t.is(http.length, requests);
  for (const line of [...http, ...rpcs]) {
    t.regex(line.request_id ?? "", /^[0-9a-f-]{36}$/);
    t.is(typeof line.ms, "number");
  }
  for (const line of http) {
    t.regex(String(line.method), /^(GET|POST)$/);
    t.is(typeof line.status, "number");
    t.regex(String(line.path), /^\/services\/oauth2\/iam-admins\/iam-admins\/[a-z]+$/);
  }
  // Every gateway request that reached the core made RPCs under its own id, and each id is one request's.
  t.is(new Set(http.map((l) => l.request_id)).size, requests);
  for (const rpc of rpcs) {
    t.regex(String(rpc.rpc), /^iam\.v1\.(AuthorizationService|TokenService)\/[A-Za-z]+$/);
    t.regex(String(rpc.status), /^(ok|invalid_argument|unauthenticated|permission_denied|failed_precondition|not_found)$/);
    t.true(http.some((h) => h.request_id === rpc.request_id), `RPC ${String(rpc.rpc)} has a request id of the gateway`);
  }
  const exchange = http.filter((l) => l.method === "POST" && String(l.path).endsWith("/token"));
  t.deepEqual(exchange.map((l) => l.status), [401, 200, 200]);
  t.deepEqual(
    rpcs.filter((l) => exchange.some((e) => e.request_id === l.request_id)).map((l) => `${String(l.rpc)} ${String(l.status)}`),
    ["iam.v1.TokenService/Token unauthenticated", "iam.v1.TokenService/Token ok", "iam.v1.TokenService/Token ok"],
  );
});

test("a caller's x-request-id is kept through the gateway and over gRPC to the core, and answered back; a hostile one is replaced", async (t) => {
  const s = await serve(t);
  // A gateway alone, reaching this core over the network.
  const { project } = await startExtraGateway(t, s);

  const res = await postForm(`${project}/token`, { grant_type: "client_credentials" }, { ...adminBasic(), "x-request-id": "trace-4bf92f3577b34da6" });
  t.is(res.status, 200);
  t.is(res.headers.get("x-request-id"), "trace-4bf92f3577b34da6");
  const lines = parse(s.lines).filter((l) => l.request_id === "trace-4bf92f3577b34da6");
  t.deepEqual(lines.map((l) => l.msg).sort(), ["http", "rpc"]);
  t.is(lines.find((l) => l.msg === "rpc")?.rpc, "iam.v1.TokenService/Token");

  for (const hostile of ["<script>alert(1)</script>", "x".repeat(65), "a b", "id\u00e9"]) {
    const answer = await fetch(`${project}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", "x-request-id": encodeURI(hostile) === hostile ? hostile : encodeURIComponent(hostile) },
      body: "grant_type=client_credentials",
    });
    t.is(answer.status, 401);
    t.regex(answer.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/, hostile);
  }
  t.false(s.lines.some((l) => l.includes("<script>") || l.includes("x".repeat(65))));

  // Straight to the core: the RPC answers its request id in a header.
  const tokens = createClient(TokenService, createGrpcTransport({ baseUrl: s.grpcUrl }));
  let header: Headers | undefined;
  await tokens.verifyToken({ token: "not-a-token" }, { headers: { "x-request-id": "rs-call-1" }, onHeader: (h) => (header = h) });
  t.is(header?.get("x-request-id"), "rs-call-1");
  t.true(parse(s.lines).some((l) => l.msg === "rpc" && l.request_id === "rs-call-1" && l.rpc === "iam.v1.TokenService/VerifyToken" && l.status === "ok"));
});

test("IAM_LOG_LEVEL decides which lines are written", (t) => {
  for (const [level, expected] of [
    ["debug", ["debug", "info", "warn", "error"]],
    ["info", ["info", "warn", "error"]],
    ["warn", ["warn", "error"]],
    ["error", ["error"]],
    ["silent", []],
  ] as const) {
    const written: string[] = [];
    const logger = createLogger(level, (line) => written.push(line));
    logger.debug("d");
    logger.info("i");
    logger.warn("w");
    logger.error("e");
    t.deepEqual(parse(written).map((l) => l.level), [...expected], level);
  }
});

test("a field named like a credential is censored even if a caller logs one", (t) => {
  const written: string[] = [];
  const logger = createLogger("info", (line) => written.push(line));
  logger.info("careless", {
    password: "hunter2",
    client: { client_secret: "s3cr3t", client_assertion: "eyJassertion" },
    refresh_token: "rt",
    dpop: "eyJproof",
    kept: "visible",
  });
  t.is(written.length, 1);
  t.false(/hunter2|s3cr3t|"rt"|eyJassertion|eyJproof/.test(written[0]!));
  t.true(written[0]!.includes("visible"));
});

async function metricsOf(url: string): Promise<{ text: string; type: string | null; status: number }> {
  const res = await fetch(url);
  return { text: await res.text(), type: res.headers.get("content-type"), status: res.status };
}

test("GET /metrics on the management listener counts requests, RPCs, tokens by grant, verifications, login failures and database time", async (t) => {
  const s = await serve(t);
  await fullFlow(s);
  const tokens = createClient(TokenService, createGrpcTransport({ baseUrl: s.grpcUrl }));
  const { accessToken } = await tokens.token({ organization: "iam-admins", project: "iam-admins", grantType: "client_credentials", clientId: "admin-client", clientSecret: ADMIN_CLIENT_SECRET });
  t.true((await tokens.verifyToken({ token: accessToken })).active);
  t.false((await tokens.verifyToken({ token: "garbage" })).active);

  const management = await metricsOf(`${s.managementUrl}/metrics`);
  t.is(management.status, 200);
  t.regex(management.type ?? "", /^text\/plain; version=0\.0\.4/);
  const m = parsePrometheus(management.text);
  const tokenRoute = "/services/oauth2/:organization/:project/token";
  t.is(total(m, "iam_http_requests_total", { method: "POST", route: tokenRoute, status: "200" }), 2);
  t.is(total(m, "iam_http_requests_total", { method: "POST", route: tokenRoute, status: "401" }), 1);
  t.is(total(m, "iam_http_request_duration_seconds_count", { method: "POST", route: tokenRoute, status: "200" }), 2);
  t.is(total(m, "iam_http_request_duration_seconds_bucket", { route: tokenRoute, status: "200", le: "+Inf" }), 2);
  t.is(total(m, "iam_rpc_requests_total", { method: "iam.v1.TokenService/Token", code: "ok" }), 3);
  t.is(total(m, "iam_rpc_requests_total", { method: "iam.v1.TokenService/Token", code: "unauthenticated" }), 1);
  t.is(total(m, "iam_rpc_duration_seconds_count", { method: "iam.v1.AuthorizationService/Login" }), 2);
  t.is(total(m, "iam_tokens_issued_total", { grant_type: "authorization_code", token_type: "access_token" }), 1);
  t.is(total(m, "iam_tokens_issued_total", { grant_type: "authorization_code", token_type: "refresh_token" }), 1);
  t.is(total(m, "iam_tokens_issued_total", { grant_type: "authorization_code", token_type: "id_token" }), 1);
  t.is(total(m, "iam_tokens_issued_total", { grant_type: "refresh_token", token_type: "access_token" }), 1);
  t.is(total(m, "iam_tokens_issued_total", { grant_type: "client_credentials", token_type: "access_token" }), 1);
  t.is(total(m, "iam_tokens_issued_total", { grant_type: "client_credentials", token_type: "refresh_token" }), 0);
  t.is(total(m, "iam_token_verifications_total", { result: "active" }), 1);
  t.is(total(m, "iam_token_verifications_total", { result: "invalid" }), 1);
  t.is(total(m, "iam_introspections_total", { active: "true" }), 1);
  t.is(total(m, "iam_login_failures_total", { reason: "wrong_password" }), 1);
  t.true(total(m, "iam_db_operation_duration_seconds_count", { operation: "transaction" }) > 0);
  t.true(total(m, "iam_db_operation_duration_seconds_count", { operation: "getClient" }) > 0);
  // No label names a tenant, client, user or token.
  t.false(/admin-client|iam-admins|"admin"/.test(management.text));
});

test("the core's port serves Connect over HTTP/1.1 as well as gRPC over HTTP/2, and a JSON 404 for other paths", async (t) => {
  const s = await serve(t);
  const { accessToken } = await createClient(TokenService, createGrpcTransport({ baseUrl: s.grpcUrl })).token({
    organization: "iam-admins",
    project: "iam-admins",
    grantType: "client_credentials",
    clientId: "admin-client",
    clientSecret: ADMIN_CLIENT_SECRET,
  });
  const overHttp1 = createClient(TokenService, createConnectTransport({ baseUrl: s.grpcUrl, httpVersion: "1.1" }));
  t.true((await overHttp1.verifyToken({ token: accessToken })).active);
  const res = await fetch(`${s.grpcUrl}/iam.v1.TokenService/VerifyToken`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ token: accessToken }),
  });
  t.is(res.status, 200);
  t.is(((await res.json()) as { active: boolean }).active, true);
  const missing = await fetch(`${s.grpcUrl}/nope`);
  t.is(missing.status, 404);
  t.deepEqual(await missing.json(), { error: "not_found", error_description: "no such endpoint" });
});
