import test, { type ExecutionContext } from "ava";
import type { Config } from "../../core/server/config.js";
import { ADMIN_PASSWORD, DEFAULT_REDIRECT, seedClient, startExtraGateway, startTestServer, type TestServer } from "../helpers.js";
import {
  adminRequest,
  assertPageHeaders,
  authorizeUrl,
  browserCookie,
  get,
  getJson,
  postForm,
  postJson,
  requestIdOf,
} from "./_support.js";

const LOCKING: Partial<Config> = { loginMaxFailuresPerUser: 2, loginLockout: 300, loginFailureDelayMs: 0 };

async function serveWith(t: ExecutionContext, config: Partial<Config>): Promise<TestServer> {
  const s = await startTestServer({ config });
  t.teardown(() => s.close());
  return s;
}

async function jsonLogin(s: TestServer, password: string, headers: Record<string, string> = {}) {
  const start = await getJson(authorizeUrl(s, adminRequest()));
  const { request_id } = (await start.json()) as { request_id: string };
  return postJson(`${s.project}/authorize`, { request_id, username: "admin", password }, headers);
}

test("JSON sign-in lockout: 401 then 429 access_denied with Retry-After and retry_after, even for the right password", async (t) => {
  const s = await serveWith(t, LOCKING);
  const first = await jsonLogin(s, "wrong");
  t.is(first.status, 401);
  t.is(first.headers.get("retry-after"), null);
  t.deepEqual(await first.json(), { error: "access_denied", error_description: "invalid username or password" });

  const second = await jsonLogin(s, "wrong");
  t.is(second.status, 429);
  t.is(second.headers.get("retry-after"), "300");
  t.deepEqual(await second.json(), {
    error: "access_denied",
    error_description: "too many failed sign-ins: try again in 5 minutes",
    retry_after: 300,
  });
  const right = await jsonLogin(s, ADMIN_PASSWORD);
  t.is(right.status, 429);
  t.is(right.headers.get("cache-control"), "no-store");
});

test("form sign-in lockout: the login page again, 429, with a visible lockout message and the page headers", async (t) => {
  const s = await serveWith(t, LOCKING);
  for (const [password, status] of [["wrong", 401], ["wrong", 429], [ADMIN_PASSWORD, 429]] as const) {
    const start = await get(authorizeUrl(s, adminRequest()));
    const cookie = browserCookie(start);
    const res = await postForm(`${s.project}/authorize`, { request_id: requestIdOf(await start.text()), username: "admin", password }, { cookie });
    const page = await res.text();
    t.is(res.status, status);
    assertPageHeaders(t, res);
    t.regex(page, /<form id="login-form" method="post"/, "the form is shown again");
    if (status === 401) {
      t.regex(page, /<p id="login-error" class="alert" role="alert">Invalid username or password\.<\/p>/);
      t.false(page.includes("login-locked"));
    } else {
      t.is(res.headers.get("retry-after"), "300");
      t.regex(page, /<p id="login-locked" class="alert" role="alert">Too many failed sign-ins\.[^<]*try again in 5 minutes\.<\/p>/);
      t.false(page.includes('id="login-error"'));
    }
  }
});

test("X-Forwarded-For counts only behind a trusted proxy: otherwise every attempt counts for the socket's address", async (t) => {
  const config: Partial<Config> = { loginMaxFailuresPerUser: 1000, loginMaxFailuresPerAddress: 2, loginFailureDelayMs: 0 };
  for (const trustProxy of [false, true]) {
    const s = await serveWith(t, config);
    const { project } = await startExtraGateway(t, s, { overNetwork: false, trustProxy });
    const login = async (address: string) => {
      const start = await getJson(`${project}/authorize?${new URLSearchParams(adminRequest())}`);
      const { request_id } = (await start.json()) as { request_id: string };
      return (await postJson(`${project}/authorize`, { request_id, username: "admin", password: "wrong" }, { "x-forwarded-for": address })).status;
    };
    const statuses = [await login("203.0.113.1"), await login("203.0.113.2"), await login("203.0.113.3")];
    // Trusted: three addresses, one failure each. Untrusted: one address (loopback), locked at the second.
    t.deepEqual(statuses, trustProxy ? [401, 401, 401] : [401, 429, 429], `trustProxy ${trustProxy}`);
  }
});

test("a form sign-in whose consent is remembered goes straight back to the client with a code", async (t) => {
  const s = await serveWith(t, {});
  await seedClient(s.core, {
    id: "remembering",
    name: "Remembering",
    secret: "remembering-secret",
    redirectUris: [DEFAULT_REDIRECT],
    rememberConsent: true,
  });
  const params = { ...adminRequest({ client_id: "remembering", scope: "iam.global.admin" }) };
  const signIn = async () => {
    const start = await get(authorizeUrl(s, params));
    const cookie = browserCookie(start);
    const res = await postForm(`${s.project}/authorize`, { request_id: requestIdOf(await start.text()), username: "admin", password: ADMIN_PASSWORD }, { cookie });
    return { res, cookie };
  };
  const first = await signIn();
  t.is(first.res.status, 200, "asked the first time");
  const page = await first.res.text();
  t.regex(page, /<form id="consent-form"/);
  const consent = await postForm(`${s.project}/consent`, { request_id: requestIdOf(page), scope: "iam.global.admin", action: "approve" }, { cookie: first.cookie });
  t.is(consent.status, 303);

  const second = await signIn();
  t.is(second.res.status, 303);
  const location = new URL(second.res.headers.get("location")!);
  t.is(`${location.origin}${location.pathname}`, DEFAULT_REDIRECT);
  t.regex(location.searchParams.get("code") ?? "", /^[A-Za-z0-9_-]{43}$/);
  t.is(location.searchParams.get("state"), "st-123");
});

test("the authorization endpoints never answer CORS: no Access-Control-Allow-Origin on a preflight or a cross-origin request", async (t) => {
  const s = await serveWith(t, {});
  for (const path of ["/authorize", "/consent"]) {
    const preflight = await fetch(`${s.project}${path}`, {
      method: "OPTIONS",
      headers: { origin: "https://evil.example", "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
    });
    t.is(preflight.headers.get("access-control-allow-origin"), null, path);
    t.is(preflight.headers.get("access-control-allow-methods"), null, path);
    const post = await postJson(`${s.project}${path}`, { request_id: "x" }, { origin: "https://evil.example" });
    t.is(post.headers.get("access-control-allow-origin"), null, path);
  }
  const page = await get(authorizeUrl(s, adminRequest()), { origin: "https://evil.example" });
  t.is(page.headers.get("access-control-allow-origin"), null);
});
