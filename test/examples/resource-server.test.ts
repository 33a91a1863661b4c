import test, { type ExecutionContext } from "ava";
import { bearerChallenge, bearerToken, TokenFailure, type VerifyTokenResponse } from "../../client/index.js";
import { startResourceServer, type ResourceServerOptions } from "../../examples/resource-server/server.js";
import { pkcePair, seedClient, seedUser, startTestServer, TestClock, type TestServer } from "../helpers.js";

const APP = { id: "notes-app", redirect: "http://127.0.0.1:9999/callback" };
const DANA = { id: "dana", password: "dana-password-1" };
const ERIN = { id: "erin", password: "erin-password-1" };

interface Tokens {
  access_token: string;
  refresh_token: string;
}

/** A core and gateway on the wall clock (local verification checks expiry against it), a public app and two users. */
async function setup(t: ExecutionContext): Promise<TestServer> {
  const clock = new TestClock();
  clock.ms = Date.now();
  const s = await startTestServer({ clock });
  t.teardown(() => s.close());
  await seedClient(s.core, {
    id: APP.id,
    name: "Notes",
    redirectUris: [APP.redirect],
    pkceRequired: true,
    grantTypes: ["authorization_code", "refresh_token"],
  });
  await seedUser(s.core, { ...DANA, permissions: ["notes.note.read"] });
  await seedUser(s.core, { ...ERIN, permissions: ["notes.note.write"] });
  return s;
}

/** The login flow a browser app makes, in JSON: authorize with PKCE, log in, consent, exchange the code. */
async function signIn(s: TestServer, user: { id: string; password: string }, scope: string): Promise<Tokens> {
  const { verifier, challenge } = pkcePair(`verifier-${crypto.randomUUID()}-${crypto.randomUUID()}`);
  const query = new URLSearchParams({
    response_type: "code",
    client_id: APP.id,
    redirect_uri: APP.redirect,
    scope,
    state: "s1",
    code_challenge: challenge,
    code_challenge_method: "S256",
  });
  const json = { "content-type": "application/json", accept: "application/json" };
  const started = await fetch(`${s.project}/authorize?${query}`, { headers: { accept: "application/json" } });
  const { request_id } = (await started.json()) as { request_id: string };
  await fetch(`${s.project}/authorize`, { method: "POST", headers: json, body: JSON.stringify({ request_id, username: user.id, password: user.password }) });
  const consent = await fetch(`${s.project}/consent`, { method: "POST", headers: json, body: JSON.stringify({ request_id, scopes: scope.split(" ") }) });
  const { redirect_to } = (await consent.json()) as { redirect_to: string };
  const code = new URL(redirect_to).searchParams.get("code")!;
  return tokenCall(s, { grant_type: "authorization_code", code, redirect_uri: APP.redirect, code_verifier: verifier, client_id: APP.id });
}

async function tokenCall(s: TestServer, form: Record<string, string>): Promise<Tokens> {
  const res = await fetch(`${s.project}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(form),
  });
  const body = await res.text();
  if (res.status !== 200) throw new Error(`token: ${res.status} ${body}`);
  return JSON.parse(body) as Tokens;
}

/** The example notes API for the default project, calling this test server's core; closed with the test. */
async function notesApi(t: ExecutionContext, s: TestServer, overrides: Partial<ResourceServerOptions> = {}) {
  const api = await startResourceServer({
    coreUrl: s.grpcUrl,
    issuer: "http://iam.test/services/oauth2/iam-admins/iam-admins",
    organization: "iam-admins",
    project: "iam-admins",
    ...overrides,
  });
  t.teardown(() => api.close());
  return api;
}

/** The resource_metadata parameter every 401 and 403 of the API ends with (RFC 9728 §5.1). */
const METADATA = ', resource_metadata="http://127\\.0\\.0\\.1:\\d+/\\.well-known/oauth-protected-resource/notes"';

const notes = (url: string, authorization?: string) =>
  fetch(`${url}/notes`, { headers: authorization === undefined ? {} : { authorization } });

async function assertRefused(t: ExecutionContext, res: Response, status: number, challenge: RegExp, error?: string) {
  t.is(res.status, status);
  t.regex(res.headers.get("www-authenticate") ?? "", challenge);
  const body = (await res.json()) as { error?: string };
  t.is(body.error, error);
}

test("the resource-server story: sign in, call the API, refresh, call again, revoke, and the API answers 401", async (t) => {
  const s = await setup(t);
  const api = await notesApi(t, s);

  const first = await signIn(s, DANA, "notes.note.read");
  const ok = await notes(api.url, `Bearer ${first.access_token}`);
  t.is(ok.status, 200);
  t.deepEqual(await ok.json(), { owner: DANA.id, notes: ["Notes of dana"] });

  const second = await tokenCall(s, { grant_type: "refresh_token", refresh_token: first.refresh_token, client_id: APP.id });
  t.not(second.access_token, first.access_token);
  t.is((await notes(api.url, `Bearer ${second.access_token}`)).status, 200);

  const revoked = await fetch(`${s.project}/revoke`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token: second.refresh_token, client_id: APP.id }),
  });
  t.is(revoked.status, 200);
  // Revoking the refresh token revokes its grant: both access tokens are refused at once.
  for (const token of [second.access_token, first.access_token]) {
    await assertRefused(t, await notes(api.url, `Bearer ${token}`), 401, new RegExp(`^Bearer realm="notes", error="invalid_token", error_description="the access token was revoked"${METADATA}$`), "invalid_token");
  }
});

test("the protected route answers RFC 6750 challenges: no token, a malformed header, a bad token, a missing scope, another project", async (t) => {
  const s = await setup(t);
  const api = await notesApi(t, s);

  // §3.1: a request without credentials gets a challenge with no error code.
  const none = await notes(api.url);
  t.is(none.status, 401);
  t.is(none.headers.get("www-authenticate"), `Bearer realm="notes", resource_metadata="${api.url}/.well-known/oauth-protected-resource/notes"`);
  for (const header of ["Basic dXNlcjpwdw==", "Bearer", "Bearer a b", "Bearer <script>"]) {
    await assertRefused(t, await notes(api.url, header), 400, /^Bearer realm="notes", error="invalid_request"/, "invalid_request");
  }
  await assertRefused(t, await notes(api.url, "Bearer not.a.token"), 401, new RegExp(`error="invalid_token", error_description="the access token is not valid"${METADATA}$`), "invalid_token");

  const writer = await signIn(s, ERIN, "notes.note.write");
  await assertRefused(t, await notes(api.url, `Bearer ${writer.access_token}`), 403, new RegExp(`^Bearer realm="notes", error="insufficient_scope", error_description="[^"]+", scope="notes.note.read"${METADATA}$`), "insufficient_scope");

  // The same API bound to another project refuses this project's tokens.
  const reader = await signIn(s, DANA, "notes.note.read");
  const other = await notesApi(t, s, { issuer: "http://iam.test/services/oauth2/acme/shop", organization: "acme", project: "shop" });
  await assertRefused(t, await notes(other.url, `Bearer ${reader.access_token}`), 401, /error="invalid_token"/, "invalid_token");
});

test("an unreachable core makes the API fail closed with 503, never let the request through", async (t) => {
  const s = await setup(t);
  const reader = await signIn(s, DANA, "notes.note.read");
  const api = await notesApi(t, s, { coreUrl: "http://127.0.0.1:9" });
  const res = await notes(api.url, `Bearer ${reader.access_token}`);
  t.is(res.status, 503);
  t.is(res.headers.get("retry-after"), "1");
});

test("local verification against the JWKS accepts good tokens and refuses bad ones, but a revoked token stays usable until it expires", async (t) => {
  const s = await setup(t);
  const api = await notesApi(t, s, { mode: "local", jwksUrl: `${s.project}/.well-known/jwks.json` });
  const reader = await signIn(s, DANA, "notes.note.read");
  t.is((await notes(api.url, `Bearer ${reader.access_token}`)).status, 200);

  const [head, payload, signature] = reader.access_token.split(".") as [string, string, string];
  const claims = JSON.parse(Buffer.from(payload, "base64url").toString()) as Record<string, unknown>;
  const forged = Buffer.from(JSON.stringify({ ...claims, sub: "admin" })).toString("base64url");
  await assertRefused(t, await notes(api.url, `Bearer ${head}.${forged}.${signature}`), 401, /error="invalid_token"/, "invalid_token");
  const writer = await signIn(s, ERIN, "notes.note.write");
  await assertRefused(t, await notes(api.url, `Bearer ${writer.access_token}`), 403, /error="insufficient_scope"/, "insufficient_scope");

  await fetch(`${s.project}/revoke`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token: reader.refresh_token, client_id: APP.id }),
  });
  // The trade-off: no call to the core, so no knowledge of the revocation.
  t.is((await notes(api.url, `Bearer ${reader.access_token}`)).status, 200);
  const tokens = (await import("../../client/index.js")).createTokenClient(s.grpcUrl);
  t.is((await tokens.verifyToken({ token: reader.access_token })).failure, TokenFailure.REVOKED);
});

test("bearerToken reads only a well-formed Authorization: Bearer header", (t) => {
  t.is(bearerToken(undefined), undefined);
  t.is(bearerToken(""), undefined);
  t.is(bearerToken("Bearer abc.DEF-_~+/="), "abc.DEF-_~+/=");
  t.is(bearerToken("bearer abc"), "abc");
  for (const bad of ["Bearer", "Bearer ", "Bearer a b", "Basic abc", "Bearer a\"b", "Bearer a=b"]) t.is(bearerToken(bad), null, bad);
});

test("bearerChallenge maps each VerifyToken failure to its RFC 6750 status and error", (t) => {
  const result = (failure: TokenFailure) => ({ active: false, failure }) as VerifyTokenResponse;
  const cases: [TokenFailure, 400 | 401 | 403, string][] = [
    [TokenFailure.INVALID, 401, "invalid_token"],
    [TokenFailure.EXPIRED, 401, "invalid_token"],
    [TokenFailure.REVOKED, 401, "invalid_token"],
    [TokenFailure.AUDIENCE, 401, "invalid_token"],
    [TokenFailure.INSUFFICIENT_SCOPE, 403, "insufficient_scope"],
  ];
  for (const [failure, status, error] of cases) {
    const c = bearerChallenge('my "realm"', { result: result(failure), requiredScopes: ["a", "b"] });
    t.is(c.status, status);
    t.is(c.body.error, error);
    t.true(c.header.startsWith('Bearer realm="my realm", error="' + error + '"'), c.header);
  }
  t.true(bearerChallenge("r", { result: result(TokenFailure.INSUFFICIENT_SCOPE), requiredScopes: ["a", "b"] }).header.endsWith(', scope="a b"'));
});
