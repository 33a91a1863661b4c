/**
 * CORS (the Fetch standard's CORS protocol) on a real core and gateway:
 * discovery and the JWK Set for any origin; the token, UserInfo and
 * revocation endpoints for the web origins of the project's clients only,
 * with their preflights; never on introspection, the authorization
 * endpoint, the sign-in and consent pages, the callback page or logout.
 * Node's fetch sends the Origin and preflight headers a browser would; the
 * browser itself is test/browser/cors.test.ts.
 */
import test, { type ExecutionContext } from "ava";
import { BASE_URL, DEFAULT, DEFAULT_REDIRECT, seedClient, seedProject, startTestServer, type TestServer } from "../helpers.js";
import { obtainTokens, SPA, WEB } from "../core/flow.js";
import { seedStandard, spaTokens } from "../standards/core-support.js";
import { adminRequest, authorizeUrl, basic, FORM, postForm, postJson } from "./_support.js";

/** The web origins of the project once `setup` has run, as GetServerMetadata answers them: sorted. */
const WEB_ORIGINS = [
  new URL(BASE_URL).origin, // iam-console, which every project starts with: where the console is served
  "http://localhost:3000", // mixed-case: the second redirect URI's origin
  "https://bff.example", // bff: confidential, registered web origins
  "https://declared.example:8443", // spa-declared: its web origins, not its redirect URI's
  "https://mixed.example", // mixed-case: scheme and host lower-cased, the default port dropped
  "https://spa.example", // SPA: a public client's redirect URI
];
const ALLOWED = "https://spa.example";
const UNKNOWN = "https://evil.example";

async function setup(t: ExecutionContext): Promise<TestServer> {
  const s = await startTestServer();
  t.teardown(() => s.close());
  await seedStandard(s);
  await seedClient(s.core, {
    id: "spa-declared",
    redirectUris: ["https://declared-redirect.example/cb"],
    webOrigins: ["https://declared.example:8443"],
  });
  await seedClient(s.core, { id: "bff", secret: "bff-secret", redirectUris: ["https://bff.example/cb"], webOrigins: ["https://bff.example"] });
  await seedClient(s.core, { id: "mixed-case", redirectUris: ["HTTPS://Mixed.Example:443/cb", "http://localhost:3000/callback"] });
  await seedClient(s.core, { id: "native", redirectUris: ["com.example.app:/oauth2redirect"] });
  return s;
}

/** Every Access-Control-* header of an answer. */
function corsHeaders(res: Response): Record<string, string> {
  const found: Record<string, string> = {};
  res.headers.forEach((value, name) => {
    if (name.startsWith("access-control-")) found[name] = value;
  });
  return found;
}

const varies = (res: Response) => (res.headers.get("vary") ?? "").split(",").map((v) => v.trim().toLowerCase());

/** A browser's CORS-preflight request (Fetch §3.2.2). */
const preflight = (url: string, origin: string, method: string, headers = "authorization, content-type") =>
  fetch(url, {
    method: "OPTIONS",
    headers: { origin, "access-control-request-method": method, "access-control-request-headers": headers },
  });

// ---------------------------------------------------------------- the project's web origins

test("the web origins are the clients' own, or a public client's redirect URI origins, normalized; never a confidential client's redirect URIs, an opaque origin or null", async (t) => {
  const s = await setup(t);
  const m = await s.tokens.getServerMetadata(DEFAULT);
  t.deepEqual(m.webOrigins, WEB_ORIGINS);
  t.false(m.webOrigins.includes("https://web.example"), "WEB is confidential and registered no web origin");
  t.false(m.webOrigins.includes("https://declared-redirect.example"), "web origins, once registered, replace the redirect URIs'");
  t.false(m.webOrigins.includes("null"));
  t.false(m.webOrigins.some((o) => o.includes("*")));
  // Each project its own: another project's clients allow nothing here, and the reverse.
  await seedProject(s.core, { organization: "acme", project: "shop" });
  await seedClient(s.core, { organization: "acme", project: "shop", id: "shop-spa", redirectUris: ["https://shop.example/cb"] });
  t.deepEqual((await s.tokens.getServerMetadata({ organization: "acme", project: "shop" })).webOrigins, ["https://shop.example"]);
  t.false((await s.tokens.getServerMetadata(DEFAULT)).webOrigins.includes("https://shop.example"));
});

test("a client registered, changed or deleted changes the allowed origins at the next request", async (t) => {
  const s = await setup(t);
  const tokenFrom = (origin: string) => postForm(`${s.project}/token`, { grant_type: "client_credentials" }, { origin });
  t.is((await tokenFrom("https://new.example")).headers.get("access-control-allow-origin"), null);

  await seedClient(s.core, { id: "new-spa", redirectUris: ["https://new.example/cb"] });
  t.is((await tokenFrom("https://new.example")).headers.get("access-control-allow-origin"), "https://new.example");

  const client = (await s.core.deps.store.getClient(DEFAULT, "new-spa"))!;
  t.true(await s.core.deps.store.updateClient({ ...client, webOrigins: ["https://moved.example"] }));
  t.is((await tokenFrom("https://new.example")).headers.get("access-control-allow-origin"), null);
  t.is((await tokenFrom("https://moved.example")).headers.get("access-control-allow-origin"), "https://moved.example");

  t.true(await s.core.deps.store.deleteClient(DEFAULT, "new-spa"));
  t.is((await tokenFrom("https://moved.example")).headers.get("access-control-allow-origin"), null);
});

// ---------------------------------------------------------------- public documents

test("discovery (every form) and the JWK Set answer any origin with Access-Control-Allow-Origin: *, never with credentials", async (t) => {
  const s = await setup(t);
  const path = "/services/oauth2/iam-admins/iam-admins";
  const documents = [
    `${s.project}/.well-known/openid-configuration`,
    `${s.project}/.well-known/oauth-authorization-server`,
    `${s.httpUrl}/.well-known/oauth-authorization-server${path}`,
    `${s.project}/.well-known/jwks.json`,
  ];
  for (const url of documents) {
    for (const headers of [{ origin: UNKNOWN }, { origin: ALLOWED }, { origin: "null" }, {}] as Record<string, string>[]) {
      const res = await fetch(url, { headers });
      t.is(res.status, 200, url);
      t.deepEqual(corsHeaders(res), { "access-control-allow-origin": "*" }, `${url} ${JSON.stringify(headers)}`);
      await res.arrayBuffer();
    }
    const pre = await preflight(url, UNKNOWN, "GET", "x-requested-with");
    t.is(pre.status, 204, url);
    t.deepEqual(
      corsHeaders(pre),
      {
        "access-control-allow-origin": "*",
        "access-control-allow-methods": "GET",
        "access-control-allow-headers": "*",
        "access-control-max-age": "7200",
      },
      url,
    );
    t.is(pre.headers.get("allow"), "GET, HEAD, OPTIONS", url);
    t.is(await pre.text(), "");
  }
  // An unknown project's 404 is readable too: a page can tell the issuer is wrong.
  const missing = await fetch(`${s.httpUrl}/services/oauth2/acme/none/.well-known/openid-configuration`, { headers: { origin: UNKNOWN } });
  t.is(missing.status, 404);
  t.is(missing.headers.get("access-control-allow-origin"), "*");
});

// ---------------------------------------------------------------- token, userinfo, revoke

type Call = (s: TestServer, headers: Record<string, string>) => Promise<Response>;

/** The three endpoints a page calls with its tokens: a request to each, and the answer it gets whatever the origin. */
const CLIENT_ENDPOINTS: { name: string; call: Call; status: number; error: string }[] = [
  { name: "token", call: (s, h) => postForm(`${s.project}/token`, {}, h), status: 400, error: "invalid_request" },
  { name: "revoke", call: (s, h) => postForm(`${s.project}/revoke`, { token: "x" }, h), status: 401, error: "invalid_client" },
  {
    name: "userinfo (GET)",
    call: (s, h) => fetch(`${s.project}/userinfo`, { headers: { authorization: "Bearer nope", ...h } }),
    status: 401,
    error: "invalid_token",
  },
  {
    name: "userinfo (POST)",
    call: (s, h) => postForm(`${s.project}/userinfo`, { access_token: "nope" }, h),
    status: 401,
    error: "invalid_token",
  },
];

test("token, revocation and UserInfo name a registered origin, vary on Origin, and send no credentials header; the answer is the endpoint's own", async (t) => {
  const s = await setup(t);
  for (const endpoint of CLIENT_ENDPOINTS) {
    for (const origin of WEB_ORIGINS) {
      const res = await endpoint.call(s, { origin });
      t.is(res.status, endpoint.status, `${endpoint.name} ${origin}`);
      t.deepEqual(corsHeaders(res), { "access-control-allow-origin": origin }, `${endpoint.name} ${origin}`);
      t.true(varies(res).includes("origin"), endpoint.name);
      t.is(((await res.json()) as { error: string }).error, endpoint.error, endpoint.name);
    }
  }
});

test("an origin not registered gets no CORS header, and the same answer as a request without Origin", async (t) => {
  const s = await setup(t);
  const notRegistered = [
    UNKNOWN,
    "null", // an opaque origin: sandboxed frames, file: pages, data: URLs
    "https://web.example", // a confidential client's redirect URI
    "https://declared-redirect.example", // replaced by the client's web origins
    "https://SPA.example", // browsers send the serialized origin; nothing else matches
    "https://spa.example:443",
    "http://spa.example",
    "https://spa.example/",
    "https://spa.example, https://evil.example",
    "*",
  ];
  for (const endpoint of CLIENT_ENDPOINTS) {
    const plain = await endpoint.call(s, {});
    const plainBody = await plain.json();
    t.deepEqual(corsHeaders(plain), {}, endpoint.name);
    for (const origin of notRegistered) {
      const res = await endpoint.call(s, { origin });
      t.is(res.status, plain.status, `${endpoint.name} ${origin}`);
      t.deepEqual(corsHeaders(res), {}, `${endpoint.name} ${origin}`);
      t.deepEqual(await res.json(), plainBody, `${endpoint.name} ${origin}`);
    }
  }
});

test("preflights of token, revocation and UserInfo: 204 with methods, headers and max-age for a registered origin; 204 without CORS headers otherwise", async (t) => {
  const s = await setup(t);
  // A DPoP proof (RFC 9449 §4.1) travels to the token endpoint and UserInfo; revocation shares the token endpoint's policy.
  for (const [path, methods, headers] of [
    ["/token", "POST", "authorization, content-type, dpop"],
    ["/revoke", "POST", "authorization, content-type, dpop"],
    ["/userinfo", "GET, POST", "authorization, content-type, dpop"],
  ] as const) {
    const url = `${s.project}${path}`;
    const ok = await preflight(url, ALLOWED, "POST");
    t.is(ok.status, 204, path);
    t.deepEqual(
      corsHeaders(ok),
      {
        "access-control-allow-origin": ALLOWED,
        "access-control-allow-methods": methods,
        "access-control-allow-headers": headers,
        "access-control-max-age": "7200",
      },
      path,
    );
    t.true(varies(ok).includes("origin"), path);
    t.is(await ok.text(), "", path);

    for (const origin of [UNKNOWN, "null", "https://web.example"]) {
      const refused = await preflight(url, origin, "POST");
      t.is(refused.status, 204, `${path} ${origin}`);
      t.deepEqual(corsHeaders(refused), {}, `${path} ${origin}`);
      t.is(refused.headers.get("allow"), path === "/userinfo" ? "GET, POST, HEAD, OPTIONS" : "POST, OPTIONS", path);
    }
    // An OPTIONS that is no preflight (no Access-Control-Request-Method) is answered as OPTIONS, without CORS.
    const options = await fetch(url, { method: "OPTIONS", headers: { origin: ALLOWED } });
    t.is(options.status, 204, path);
    t.deepEqual(corsHeaders(options), {}, path);
  }
  // An unknown project allows no origin.
  const unknownProject = await preflight(`${s.httpUrl}/services/oauth2/acme/none/token`, ALLOWED, "POST");
  t.deepEqual(corsHeaders(unknownProject), {});
});

test("a single-page application's calls succeed with CORS: the refresh at /token, UserInfo, and revocation answering {}", async (t) => {
  const s = await setup(t);
  const tokens = await spaTokens(s, "openid profile");
  const headers = { origin: ALLOWED };

  const refreshed = await postForm(`${s.project}/token`, { grant_type: "refresh_token", refresh_token: tokens.refreshToken, client_id: SPA.id }, headers);
  t.is(refreshed.status, 200);
  t.is(refreshed.headers.get("access-control-allow-origin"), ALLOWED);
  t.is(refreshed.headers.get("cache-control"), "no-store");
  const body = (await refreshed.json()) as { access_token: string; refresh_token: string };

  const info = await fetch(`${s.project}/userinfo`, { headers: { ...headers, authorization: `Bearer ${body.access_token}` } });
  t.is(info.status, 200);
  t.is(info.headers.get("access-control-allow-origin"), ALLOWED);
  t.is(((await info.json()) as { sub: string }).sub, "alice");

  const revoked = await postForm(`${s.project}/revoke`, { token: body.refresh_token, token_type_hint: "refresh_token", client_id: SPA.id }, headers);
  t.is(revoked.status, 200);
  t.is(revoked.headers.get("access-control-allow-origin"), ALLOWED);
  t.regex(revoked.headers.get("content-type") ?? "", /^application\/json/);
  t.is(revoked.headers.get("cache-control"), "no-store");
  t.is(await revoked.text(), "{}");
});

// ---------------------------------------------------------------- never

test("introspection has no CORS: it is for resource servers, whose secrets no page holds", async (t) => {
  const s = await setup(t);
  const { accessToken } = await obtainTokens(s);
  for (const origin of [ALLOWED, "https://bff.example"]) {
    const res = await postForm(`${s.project}/introspect`, { token: accessToken }, { ...basic(WEB.id, WEB.secret), origin });
    t.is(res.status, 200);
    t.true(((await res.json()) as { active: boolean }).active);
    t.deepEqual(corsHeaders(res), {});
    t.deepEqual(corsHeaders(await preflight(`${s.project}/introspect`, origin, "POST")), {});
  }
});

test("the authorization endpoint, sign-in, consent, the callback page and logout never carry a CORS header, for any origin, preflight or not", async (t) => {
  const s = await setup(t);
  const origins = [ALLOWED, "https://bff.example", UNKNOWN, "null"];
  const authorize = authorizeUrl(s, adminRequest({ scope: "openid" }));
  for (const origin of origins) {
    const answers: [string, Response][] = [
      ["GET /authorize", await fetch(authorize, { redirect: "manual", headers: { origin } })],
      ["GET /authorize (JSON)", await fetch(authorize, { redirect: "manual", headers: { origin, accept: "application/json" } })],
      ["POST /authorize (login form)", await postForm(`${s.project}/authorize`, { request_id: "x", username: "admin", password: "x" }, { origin })],
      ["POST /authorize (login JSON)", await postJson(`${s.project}/authorize`, { request_id: "x", username: "admin", password: "x" }, { origin })],
      ["POST /consent", await postForm(`${s.project}/consent`, { request_id: "x", scope: "openid" }, { origin })],
      ["POST /consent (JSON)", await postJson(`${s.project}/consent`, { request_id: "x", scopes: ["openid"] }, { origin })],
      ["GET /redirect", await fetch(`${DEFAULT_REDIRECT.replace("http://iam.test", s.httpUrl)}?code=x`, { headers: { origin } })],
      ["GET /logout", await fetch(`${s.project}/logout`, { redirect: "manual", headers: { origin } })],
      ["POST /logout", await fetch(`${s.project}/logout`, { method: "POST", redirect: "manual", headers: { origin, "content-type": FORM }, body: "" })],
    ];
    for (const path of ["/authorize", "/consent", "/redirect", "/logout"]) {
      answers.push([`OPTIONS ${path}`, await preflight(`${s.project}${path}`, origin, "POST")]);
    }
    for (const [what, res] of answers) {
      t.true(res.status < 500, `${what}: ${res.status}`);
      t.deepEqual(corsHeaders(res), {}, `${what} from ${origin}`);
      await res.arrayBuffer();
    }
  }
});
