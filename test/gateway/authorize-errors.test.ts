import test from "ava";
import { ADMIN_PASSWORD, DEFAULT_REDIRECT, pkcePair, seedClient, seedUser, type TestServer } from "../helpers.js";
import {
  adminRequest,
  assertErrorPage,
  assertErrorRedirect,
  assertJsonError,
  authorizeUrl,
  browserCookie,
  get,
  getJson,
  ISSUER,
  postForm,
  postJson,
  requestIdOf,
  serve,
  setCookies,
} from "./_support.js";

const { challenge } = pkcePair();

/**
 * Errors before the client and its redirect URI are trusted: an error page
 * (or JSON), never a redirect (RFC 6749 §4.1.2.1, RFC 9700 §4.11).
 */
const pageErrors: { name: string; url: (s: TestServer) => string; error: string }[] = [
  { name: "an unknown client", url: (s) => authorizeUrl(s, adminRequest({ client_id: "no-such-client" })), error: "invalid_request" },
  {
    name: "an unregistered redirect_uri",
    url: (s) => authorizeUrl(s, adminRequest({ redirect_uri: "https://evil.example/callback" })),
    error: "invalid_request",
  },
  {
    name: "a redirect_uri that differs from the registered one by a trailing slash",
    url: (s) => authorizeUrl(s, adminRequest({ redirect_uri: `${DEFAULT_REDIRECT}/` })),
    error: "invalid_request",
  },
  {
    name: "a redirect_uri that differs only by an added query",
    url: (s) => authorizeUrl(s, adminRequest({ redirect_uri: `${DEFAULT_REDIRECT}?next=https://evil.example` })),
    error: "invalid_request",
  },
  {
    name: "a missing redirect_uri",
    url: (s) => {
      const { redirect_uri: _, ...rest } = adminRequest();
      return authorizeUrl(s, rest);
    },
    error: "invalid_request",
  },
  {
    name: "a missing client_id",
    url: (s) => {
      const { client_id: _, ...rest } = adminRequest();
      return authorizeUrl(s, rest);
    },
    error: "invalid_request",
  },
  {
    name: "a repeated redirect_uri",
    url: (s) => authorizeUrl(s, [...Object.entries(adminRequest()), ["redirect_uri", "https://evil.example/callback"]]),
    error: "invalid_request",
  },
  {
    name: "a repeated client_id",
    url: (s) => authorizeUrl(s, [...Object.entries(adminRequest()), ["client_id", "other"]]),
    error: "invalid_request",
  },
  {
    name: "an unknown project",
    url: (s) => `${s.httpUrl}/services/oauth2/no-org/no-project/authorize?${new URLSearchParams(adminRequest()).toString()}`,
    error: "invalid_request",
  },
  {
    name: "an unknown client together with an unsupported response_type",
    url: (s) => authorizeUrl(s, adminRequest({ client_id: "no-such-client", response_type: "token" })),
    error: "invalid_request",
  },
  {
    name: "an unregistered redirect_uri together with a missing response_type",
    url: (s) => {
      const { response_type: _, ...rest } = adminRequest({ redirect_uri: "https://evil.example/callback" });
      return authorizeUrl(s, rest);
    },
    error: "invalid_request",
  },
];

for (const c of pageErrors) {
  test(`GET /authorize with ${c.name}: 400 error page, never a redirect`, async (t) => {
    const s = await serve(t);
    const page = await assertErrorPage(t, await get(c.url(s)), 400, c.error);
    t.false(page.includes("evil.example"));
    t.false(page.includes("Redirecting"));
  });

  test(`GET /authorize as JSON with ${c.name}: 400 {error: "${c.error}"}, never a redirect`, async (t) => {
    const s = await serve(t);
    const res = await getJson(c.url(s));
    t.is(res.headers.get("location"), null);
    t.deepEqual(setCookies(res), []);
    await assertJsonError(t, res, 400, c.error);
  });
}

test("GET /authorize for a client that may not use the code flow: 400 unauthorized_client page, no redirect", async (t) => {
  const s = await serve(t);
  await seedClient(s.core, { id: "machine", secret: "machine-secret", grantTypes: ["client_credentials"] });
  const url = authorizeUrl(s, { response_type: "code", client_id: "machine", redirect_uri: "https://app.example/callback", state: "x" });
  await assertErrorPage(t, await get(url), 400, "unauthorized_client");
  const json = await getJson(url);
  t.is(json.headers.get("location"), null);
  await assertJsonError(t, json, 400, "unauthorized_client");
});

/**
 * Errors once the redirect URI is trusted: 302 back to the client with error,
 * error_description, state and iss (RFC 6749 §4.1.2.1, RFC 9207 §2).
 */
const redirectErrors: {
  name: string;
  params: (s: TestServer) => Promise<Record<string, string> | [string, string][]>;
  error: string;
  redirectUri?: string;
}[] = [
  { name: "response_type=token", params: async () => adminRequest({ response_type: "token" }), error: "unsupported_response_type" },
  { name: "response_type=code id_token", params: async () => adminRequest({ response_type: "code id_token" }), error: "unsupported_response_type" },
  {
    name: "a missing response_type",
    params: async () => {
      const { response_type: _, ...rest } = adminRequest();
      return rest;
    },
    error: "invalid_request",
  },
  {
    name: "a repeated scope parameter",
    params: async () => [...Object.entries(adminRequest()), ["scope", "iam.global.admin"], ["scope", "iam.global.admin"]],
    error: "invalid_request",
  },
  {
    name: "a repeated response_type parameter",
    params: async () => [...Object.entries(adminRequest()), ["response_type", "code"]],
    error: "invalid_request",
  },
  {
    name: "a public client without PKCE",
    params: async (s) => {
      await seedClient(s.core, { id: "spa", redirectUris: ["https://app.example/callback"] });
      return { response_type: "code", client_id: "spa", redirect_uri: "https://app.example/callback", state: "st-123" };
    },
    error: "invalid_request",
    redirectUri: "https://app.example/callback",
  },
  {
    name: "a confidential client configured to require PKCE, without PKCE",
    params: async (s) => {
      await seedClient(s.core, { id: "strict", secret: "strict-secret", pkceRequired: true, redirectUris: ["https://app.example/callback"] });
      return { response_type: "code", client_id: "strict", redirect_uri: "https://app.example/callback", state: "st-123" };
    },
    error: "invalid_request",
    redirectUri: "https://app.example/callback",
  },
  {
    name: "an unsupported code_challenge_method",
    params: async () => adminRequest({ code_challenge: challenge, code_challenge_method: "S512" }),
    error: "invalid_request",
  },
  {
    name: "a code_challenge shorter than 43 characters",
    params: async () => adminRequest({ code_challenge: "a".repeat(42), code_challenge_method: "plain" }),
    error: "invalid_request",
  },
  {
    name: "a code_challenge longer than 128 characters",
    params: async () => adminRequest({ code_challenge: "a".repeat(129), code_challenge_method: "plain" }),
    error: "invalid_request",
  },
  {
    name: "a code_challenge with characters outside [A-Za-z0-9-._~]",
    params: async () => adminRequest({ code_challenge: `${"a".repeat(42)}+`, code_challenge_method: "plain" }),
    error: "invalid_request",
  },
  {
    name: "a code_challenge_method without code_challenge",
    params: async () => adminRequest({ code_challenge_method: "S256" }),
    error: "invalid_request",
  },
  { name: "only unknown scopes", params: async () => adminRequest({ scope: "no.such.scope" }), error: "invalid_scope" },
  { name: "a scope with a character RFC 6749 §3.3 forbids", params: async () => adminRequest({ scope: 'bad"scope' }), error: "invalid_scope" },
];

for (const c of redirectErrors) {
  test(`GET /authorize with ${c.name}: 302 to the client with error=${c.error}, state and iss`, async (t) => {
    const s = await serve(t);
    const res = await get(authorizeUrl(s, await c.params(s)));
    const q = assertErrorRedirect(t, res, 302, c.error, { redirectUri: c.redirectUri });
    t.deepEqual([...q.keys()].sort(), ["error", "error_description", "iss", "state"]);
    // No login page, no browser binding for a refused request.
    t.deepEqual(setCookies(res), []);
  });
}

test("GET /authorize with an over-long state: 302 invalid_request, without echoing the state", async (t) => {
  const s = await serve(t);
  const res = await get(authorizeUrl(s, adminRequest({ state: "s".repeat(5000) })));
  assertErrorRedirect(t, res, 302, "invalid_request", { state: null });
  t.true(res.headers.get("location")!.length < 1000);
});

test("the error redirect keeps the query the client registered (RFC 6749 §3.1.2)", async (t) => {
  const s = await serve(t);
  await seedClient(s.core, { id: "q", secret: "q-secret", redirectUris: ["https://app.example/cb?tenant=7"] });
  const res = await get(authorizeUrl(s, { response_type: "token", client_id: "q", redirect_uri: "https://app.example/cb?tenant=7", state: "st-123" }));
  t.is(res.status, 302);
  const location = res.headers.get("location")!;
  t.true(location.startsWith("https://app.example/cb?tenant=7&"));
  const q = new URL(location).searchParams;
  t.is(q.get("tenant"), "7");
  t.is(q.get("error"), "unsupported_response_type");
  t.is(q.get("state"), "st-123");
  t.is(q.get("iss"), ISSUER);
});

test("a user holding none of the requested scopes: the login form redirects 303 with invalid_scope", async (t) => {
  const s = await serve(t);
  await seedUser(s.core, { id: "dave", password: "dave-password", permissions: ["app.other.read"] });
  const start = await get(authorizeUrl(s, adminRequest({ scope: "iam.global.admin" })));
  const cookie = browserCookie(start);
  const request_id = requestIdOf(await start.text());
  const res = await postForm(`${s.project}/authorize`, { request_id, username: "dave", password: "dave-password" }, { cookie });
  assertErrorRedirect(t, res, 303, "invalid_scope");
});

test("a user holding none of the requested scopes: the JSON login answers invalid_scope with redirect_to", async (t) => {
  const s = await serve(t);
  await seedUser(s.core, { id: "erin", password: "erin-password", permissions: ["app.other.read"] });
  const { request_id } = (await (await getJson(authorizeUrl(s, adminRequest({ scope: "iam.global.admin" })))).json()) as { request_id: string };
  const res = await postJson(`${s.project}/authorize`, { request_id, username: "erin", password: "erin-password" });
  t.is(res.headers.get("location"), null);
  const body = (await assertJsonError(t, res, 400, "invalid_scope")) as unknown as { redirect_to: string };
  const q = new URL(body.redirect_to).searchParams;
  t.is(q.get("error"), "invalid_scope");
  t.is(q.get("state"), "st-123");
  t.is(q.get("iss"), ISSUER);
  // The admin, who holds it, still gets in with a fresh request.
  const fresh = (await (await getJson(authorizeUrl(s, adminRequest({ scope: "iam.global.admin" })))).json()) as { request_id: string };
  t.is((await postJson(`${s.project}/authorize`, { request_id: fresh.request_id, username: "admin", password: ADMIN_PASSWORD })).status, 200);
});
