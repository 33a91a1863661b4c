import test, { type ExecutionContext } from "ava";
import { DEFAULT_REDIRECT, type TestServer } from "../helpers.js";
import {
  adminBasic,
  adminRequest,
  assertErrorPage,
  assertJsonError,
  assertNoStack,
  authorizeUrl,
  browserCookie,
  FORM,
  get,
  getJson,
  requestIdOf,
  serve,
} from "./_support.js";

/** No unexpected error reached the logs: nothing was a server error in disguise. */
function assertNoServerError(t: ExecutionContext, s: TestServer) {
  const errors = s.lines.filter((line) => (JSON.parse(line) as { level: string }).level === "error");
  t.deepEqual(errors, []);
}

/** A pending request started by a browser: its id and cookie. */
async function pending(s: TestServer): Promise<{ requestId: string; cookie: string }> {
  const res = await get(authorizeUrl(s, adminRequest()));
  return { cookie: browserCookie(res), requestId: requestIdOf(await res.text()) };
}

const raw = (s: TestServer, path: string, type: string | undefined, body: string | Uint8Array, headers: Record<string, string> = {}) =>
  fetch(`${s.project}${path}`, {
    method: "POST",
    redirect: "manual",
    headers: { ...(type === undefined ? {} : { "content-type": type }), ...headers },
    body: typeof body === "string" ? body : new Uint8Array(body),
  });

const INVALID_UTF8 = new Uint8Array([0x72, 0x65, 0x71, 0x3d, 0xc3, 0x28, 0xff, 0xfe]);

interface Case {
  name: string;
  send: (s: TestServer, p: { requestId: string; cookie: string }) => Promise<Response>;
  status: number;
  error: string;
  /** The answer is a page (form posts) or JSON. */
  as: "json" | "page";
}

const cases: Case[] = [
  { name: "invalid JSON to POST /authorize", send: (s) => raw(s, "/authorize", "application/json", "{"), status: 400, error: "invalid_request", as: "json" },
  { name: "invalid JSON to POST /consent", send: (s) => raw(s, "/consent", "application/json", '{"request_id":'), status: 400, error: "invalid_request", as: "json" },
  { name: "an empty JSON body", send: (s) => raw(s, "/authorize", "application/json", ""), status: 400, error: "invalid_request", as: "json" },
  { name: "a JSON array body", send: (s) => raw(s, "/authorize", "application/json", "[]"), status: 400, error: "invalid_request", as: "json" },
  { name: "a JSON null body", send: (s) => raw(s, "/consent", "application/json", "null"), status: 400, error: "invalid_request", as: "json" },
  { name: "a JSON string body", send: (s) => raw(s, "/authorize", "application/json", '"admin"'), status: 400, error: "invalid_request", as: "json" },
  { name: "a JSON number body", send: (s) => raw(s, "/consent", "application/json", "42"), status: 400, error: "invalid_request", as: "json" },
  {
    name: "a non-string request_id",
    send: (s) => raw(s, "/authorize", "application/json", JSON.stringify({ request_id: { $ne: null }, username: "admin", password: "x" })),
    status: 400,
    error: "invalid_request",
    as: "json",
  },
  {
    name: "a numeric username",
    send: (s, p) => raw(s, "/authorize", "application/json", JSON.stringify({ request_id: p.requestId, username: 5, password: "x" })),
    status: 400,
    error: "invalid_request",
    as: "json",
  },
  {
    name: "an array password",
    send: (s, p) => raw(s, "/authorize", "application/json", JSON.stringify({ request_id: p.requestId, username: "admin", password: ["x"] })),
    status: 400,
    error: "invalid_request",
    as: "json",
  },
  {
    name: "a boolean password",
    send: (s, p) => raw(s, "/authorize", "application/json", JSON.stringify({ request_id: p.requestId, username: "admin", password: true })),
    status: 400,
    error: "invalid_request",
    as: "json",
  },
  {
    name: "consent scopes as a string",
    send: (s, p) => raw(s, "/consent", "application/json", JSON.stringify({ request_id: p.requestId, scopes: "iam.global.admin" })),
    status: 400,
    error: "invalid_request",
    as: "json",
  },
  {
    name: "consent scopes with a number",
    send: (s, p) => raw(s, "/consent", "application/json", JSON.stringify({ request_id: p.requestId, scopes: [1] })),
    status: 400,
    error: "invalid_request",
    as: "json",
  },
  {
    name: "consent scopes as an object",
    send: (s, p) => raw(s, "/consent", "application/json", JSON.stringify({ request_id: p.requestId, scopes: { 0: "iam.global.admin" } })),
    status: 400,
    error: "invalid_request",
    as: "json",
  },
  {
    name: "consent deny as a string",
    send: (s, p) => raw(s, "/consent", "application/json", JSON.stringify({ request_id: p.requestId, scopes: [], deny: "yes" })),
    status: 400,
    error: "invalid_request",
    as: "json",
  },
  {
    name: "a __proto__ member in the JSON body",
    send: (s) => raw(s, "/authorize", "application/json", '{"__proto__":{"request_id":"x"},"username":"admin","password":"x"}'),
    status: 400,
    error: "invalid_request",
    as: "json",
  },
  { name: "invalid UTF-8 in a JSON body", send: (s) => raw(s, "/authorize", "application/json", INVALID_UTF8), status: 400, error: "invalid_request", as: "json" },
  {
    name: "invalid UTF-8 in a login form",
    send: (s, p) => raw(s, "/authorize", FORM, INVALID_UTF8, { cookie: p.cookie }),
    status: 400,
    error: "invalid_request",
    as: "page",
  },
  {
    name: "invalid UTF-8 in a consent form",
    send: (s, p) => raw(s, "/consent", FORM, INVALID_UTF8, { cookie: p.cookie }),
    status: 400,
    error: "invalid_request",
    as: "page",
  },
  { name: "invalid UTF-8 in a token request", send: (s) => raw(s, "/token", FORM, INVALID_UTF8, adminBasic()), status: 400, error: "invalid_request", as: "json" },
  {
    name: "a text/plain login post",
    send: (s, p) => raw(s, "/authorize", "text/plain", `request_id=${p.requestId}&username=admin&password=x`, { cookie: p.cookie }),
    status: 415,
    error: "invalid_request",
    as: "page",
  },
  { name: "a login post without a content type", send: (s) => raw(s, "/authorize", undefined, "x"), status: 415, error: "invalid_request", as: "page" },
  {
    name: "a repeated request_id in a login form",
    send: (s, p) => raw(s, "/authorize", FORM, `request_id=${p.requestId}&request_id=${p.requestId}&username=admin&password=x`, { cookie: p.cookie }),
    status: 400,
    error: "invalid_request",
    as: "page",
  },
  {
    name: "a JSON login body over 16 KiB",
    send: (s, p) => raw(s, "/authorize", "application/json", JSON.stringify({ request_id: p.requestId, username: "admin", password: "p".repeat(17 * 1024) })),
    status: 413,
    error: "invalid_request",
    as: "json",
  },
  {
    name: "a consent form over 16 KiB",
    send: (s, p) => raw(s, "/consent", FORM, `request_id=${p.requestId}&${"scope=x&".repeat(2500)}`, { cookie: p.cookie }),
    status: 413,
    error: "invalid_request",
    as: "page",
  },
  {
    name: "a deeply nested JSON body",
    send: (s) => raw(s, "/authorize", "application/json", `{"request_id":${"[".repeat(5000)}${"]".repeat(5000)}}`),
    status: 400,
    error: "invalid_request",
    as: "json",
  },
  {
    name: "a lone surrogate and NUL in the credentials",
    send: (s, p) => raw(s, "/authorize", "application/json", `{"request_id":"${p.requestId}","username":"ad\\u0000min\\ud800","password":"\\udfff"}`),
    status: 401,
    error: "access_denied",
    as: "json",
  },
  {
    name: "a 2 KiB username",
    send: (s, p) => raw(s, "/authorize", "application/json", JSON.stringify({ request_id: p.requestId, username: "u".repeat(2048), password: "x" })),
    status: 401,
    error: "access_denied",
    as: "json",
  },
];

for (const c of cases) {
  test(`${c.name}: ${c.status} ${c.error}, never a 500`, async (t) => {
    const s = await serve(t);
    const p = await pending(s);
    const res = await c.send(s, p);
    if (c.as === "json") await assertJsonError(t, res, c.status, c.error);
    else await assertErrorPage(t, res, c.status, c.error);
    assertNoServerError(t, s);
  });
}

test("a huge state in GET /authorize: 302 invalid_request to the client, never a 500", async (t) => {
  const s = await serve(t);
  for (const res of [await get(authorizeUrl(s, adminRequest({ state: "x".repeat(12_000) }))), await getJson(authorizeUrl(s, adminRequest({ state: "<>".repeat(1500) })))]) {
    t.is(res.status, 302);
    const location = new URL(res.headers.get("location")!);
    t.is(`${location.origin}${location.pathname}`, DEFAULT_REDIRECT);
    t.is(location.searchParams.get("error"), "invalid_request");
  }
  assertNoServerError(t, s);
});

test("a query beyond the server's header limit is refused with 431, never a 500", async (t) => {
  const s = await serve(t);
  const res = await get(authorizeUrl(s, adminRequest({ state: "x".repeat(20_000) })));
  t.is(res.status, 431);
  assertNoServerError(t, s);
});

test("malformed percent-encoding in the path or query is a 4xx, never a 500", async (t) => {
  const s = await serve(t);
  const page = await get(`${s.httpUrl}/services/oauth2/%E0%A4%A/iam-admins/authorize?${new URLSearchParams(adminRequest()).toString()}`);
  await assertErrorPage(t, page, 400, "invalid_request");
  const query = await get(`${s.project}/authorize?response_type=code&client_id=%ZZ%E0%A4&redirect_uri=%`);
  await assertErrorPage(t, query, 400, "invalid_request");
  const jwks = await get(`${s.httpUrl}/services/oauth2/%ZZ/x/.well-known/jwks.json`);
  await assertJsonError(t, jwks, 404, "not_found");
  assertNoServerError(t, s);
});

for (const path of ["/", "/nope", "/services/oauth2", "/services/oauth2/iam-admins", "/services/oauth2/iam-admins/iam-admins/nope", "/services/oauth2/iam-admins/iam-admins/authorize/extra"]) {
  test(`an unknown path (${path}) is 404 JSON`, async (t) => {
    const s = await serve(t);
    const res = await get(`${s.httpUrl}${path}`);
    const text = await res.text();
    t.is(res.status, 404);
    t.regex(res.headers.get("content-type") ?? "", /^application\/json/);
    t.is(res.headers.get("cache-control"), "no-store");
    assertNoStack(t, text);
    t.is((JSON.parse(text) as { error: string }).error, "not_found");
  });
}

test("an unknown path answered to a POST with a body is 404 JSON too", async (t) => {
  const s = await serve(t);
  const res = await fetch(`${s.project}/introspection-of-nothing`, { method: "POST", headers: { "content-type": FORM }, body: "token=x" });
  await assertJsonError(t, res, 404, "not_found");
});
