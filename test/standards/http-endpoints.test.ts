/**
 * The introspection (RFC 7662), revocation (RFC 7009) and UserInfo (OpenID
 * Connect Core §5.3, RFC 6750) endpoints over real HTTP: core and gateway on
 * loopback ports.
 */
import type { ExecutionContext } from "ava";
import test from "ava";
import { decodeJwt } from "jose";
import { TokenFailure } from "../../gen/iam/v1/token_pb.js";
import { startTestServer, type TestServer } from "../helpers.js";
import { ALICE, ISSUER, M2M, obtainTokens, READ, SPA, WEB, WEB2, WRITE } from "../core/flow.js";
import { assertJsonError, basic, postForm, postJson } from "../gateway/_support.js";
import { m2mToken, seedStandard, spaTokens } from "./core-support.js";

const REALM = ISSUER;

async function serve(t: ExecutionContext): Promise<TestServer> {
  const s = await startTestServer();
  t.teardown(() => s.close());
  await seedStandard(s);
  return s;
}

const webBasic = () => basic(WEB.id, WEB.secret);
const introspect = (s: TestServer, body: Record<string, string> | string, headers: Record<string, string> = webBasic()) =>
  postForm(`${s.project}/introspect`, body, headers);
const revoke = (s: TestServer, body: Record<string, string> | string, headers: Record<string, string> = webBasic()) =>
  postForm(`${s.project}/revoke`, body, headers);

async function json200(t: ExecutionContext, res: Response): Promise<Record<string, unknown>> {
  const text = await res.text();
  t.is(res.status, 200, text);
  t.regex(res.headers.get("content-type") ?? "", /^application\/json/);
  t.is(res.headers.get("cache-control"), "no-store");
  return JSON.parse(text) as Record<string, unknown>;
}

/** The RFC 6750 §3 challenge parameters of a WWW-Authenticate: Bearer header. */
function challenge(header: string | null): { scheme: string; params: Record<string, string> } {
  if (header === null) throw new Error("no WWW-Authenticate header");
  const [scheme = "", ...rest] = header.split(" ");
  const params: Record<string, string> = {};
  for (const m of rest.join(" ").matchAll(/([a-z_]+)="([^"]*)"/g)) params[m[1]!] = m[2]!;
  return { scheme, params };
}

// ---------------------------------------------------------------- /introspect

test("POST /introspect with Basic answers exactly the RFC 7662 fields of an access token, aud a string, and how the user signed in (RFC 9470 §6.2)", async (t) => {
  const s = await serve(t);
  const res = await obtainTokens(s);
  const claims = decodeJwt(res.accessToken);
  const body = await json200(t, await introspect(s, { token: res.accessToken }));
  t.deepEqual(body, {
    active: true,
    scope: `${READ} ${WRITE}`,
    client_id: WEB.id,
    username: ALICE.id,
    token_type: "Bearer",
    exp: claims.exp,
    iat: claims.iat,
    sub: ALICE.id,
    aud: ISSUER,
    iss: ISSUER,
    jti: claims.jti,
    auth_time: claims.auth_time,
    acr: "urn:iam-core:acr:password",
    amr: ["pwd"],
  });
  // client_secret_post answers the same.
  const post = await json200(t, await introspect(s, { token: res.accessToken, client_id: WEB.id, client_secret: WEB.secret }, {}));
  t.deepEqual(post, body);
});

test("POST /introspect of a refresh token: token_type refresh_token and no jti; of a client token: no username, auth_time, acr or amr", async (t) => {
  const s = await serve(t);
  const res = await obtainTokens(s);
  const refresh = await json200(t, await introspect(s, { token: res.refreshToken, token_type_hint: "refresh_token" }));
  const now = Math.floor(s.clock.now() / 1000);
  t.deepEqual(refresh, {
    active: true,
    scope: `${READ} ${WRITE}`,
    client_id: WEB.id,
    username: ALICE.id,
    token_type: "refresh_token",
    exp: now + WEB.refreshTokenTtl,
    iat: now,
    sub: ALICE.id,
    aud: ISSUER,
    iss: ISSUER,
    auth_time: now,
    acr: "urn:iam-core:acr:password",
    amr: ["pwd"],
  });
  const client = await m2mToken(s);
  const c = await json200(t, await introspect(s, { token: client.accessToken }));
  t.is(c.active, true);
  t.is(c.sub, M2M.id);
  t.is(c.client_id, M2M.id);
  t.false("username" in c, "no username for a client acting for itself");
  for (const claim of ["auth_time", "acr", "amr"]) t.false(claim in c, `no ${claim}: no user signed in`);
});

test("POST /introspect of an inactive token answers exactly {\"active\":false}, no-store", async (t) => {
  const s = await serve(t);
  const res = await obtainTokens(s);
  await s.tokens.revoke({ organization: "iam-admins", project: "iam-admins", token: res.refreshToken, client: { basic: { clientId: WEB.id, clientSecret: WEB.secret } } });
  for (const token of [res.accessToken, res.refreshToken, "garbage", "a.b.c"]) {
    const r = await introspect(s, { token });
    const text = await r.text();
    t.is(r.status, 200, token);
    t.regex(r.headers.get("content-type") ?? "", /^application\/json/);
    t.is(r.headers.get("cache-control"), "no-store");
    t.deepEqual(JSON.parse(text), { active: false });
  }
});

test("POST /introspect refuses a public client and a wrong secret with 401 invalid_client", async (t) => {
  const s = await serve(t);
  const spa = await spaTokens(s);
  await assertJsonError(t, await introspect(s, { token: spa.accessToken, client_id: SPA.id }, {}), 401, "invalid_client");
  const wrong = await introspect(s, { token: spa.accessToken }, basic(WEB.id, "wrong-secret"));
  await assertJsonError(t, wrong, 401, "invalid_client");
  t.regex(wrong.headers.get("www-authenticate") ?? "", /^Basic realm=/, "Basic challenge after failed Basic authentication");
  await assertJsonError(t, await introspect(s, { token: spa.accessToken }, {}), 401, "invalid_client");
});

test("POST /introspect with a JSON body is 400, a missing token 400 invalid_request, GET is 405", async (t) => {
  const s = await serve(t);
  const res = await obtainTokens(s);
  await assertJsonError(t, await postJson(`${s.project}/introspect`, { token: res.accessToken }, webBasic()), 400, "invalid_request");
  await assertJsonError(t, await introspect(s, {}), 400, "invalid_request");
  await assertJsonError(t, await introspect(s, { token: res.accessToken, token_type_hint: "id_token" }), 400, "unsupported_token_type");
  const get = await fetch(`${s.project}/introspect?token=${encodeURIComponent(res.accessToken)}`, { headers: webBasic() });
  t.is(get.status, 405);
  t.regex(get.headers.get("allow") ?? "", /POST/);
  t.is(((await get.json()) as { error: string }).error, "invalid_request");
});

// ---------------------------------------------------------------- /revoke

test("POST /revoke answers 200 with the empty JSON object, for a valid token and for an unknown one", async (t) => {
  const s = await serve(t);
  const res = await obtainTokens(s);
  const r = await revoke(s, { token: res.refreshToken, token_type_hint: "refresh_token" });
  t.deepEqual(await json200(t, r), {});
  const v = await s.tokens.verifyToken({ token: res.accessToken });
  t.false(v.active);
  t.is(v.failure, TokenFailure.REVOKED);

  const unknown = await revoke(s, { token: "never-issued" });
  t.deepEqual(await json200(t, unknown), {});
  const again = await revoke(s, { token: res.refreshToken });
  t.is(again.status, 200, "already revoked: still success");

  // A public client by client_id in the body.
  const spa = await spaTokens(s);
  const pub = await revoke(s, { token: spa.refreshToken, client_id: SPA.id }, {});
  t.deepEqual(await json200(t, pub), {});
  t.is((await s.tokens.verifyToken({ token: spa.accessToken })).failure, TokenFailure.REVOKED);
});

test("POST /revoke of another client's token is 400 unauthorized_client and revokes nothing", async (t) => {
  const s = await serve(t);
  const res = await obtainTokens(s);
  await assertJsonError(t, await revoke(s, { token: res.refreshToken }, basic(WEB2.id, WEB2.secret)), 400, "unauthorized_client");
  await assertJsonError(t, await revoke(s, { token: res.accessToken }, basic(WEB2.id, WEB2.secret)), 400, "unauthorized_client");
  t.true((await s.tokens.verifyToken({ token: res.accessToken })).active);
});

test("POST /revoke with a bad token_type_hint is 400 unsupported_token_type", async (t) => {
  const s = await serve(t);
  const res = await obtainTokens(s);
  await assertJsonError(t, await revoke(s, { token: res.refreshToken, token_type_hint: "id_token" }), 400, "unsupported_token_type");
  t.true((await s.tokens.verifyToken({ token: res.accessToken })).active);
  await assertJsonError(t, await revoke(s, { token: res.refreshToken }, basic(WEB.id, "wrong")), 401, "invalid_client");
  const get = await fetch(`${s.project}/revoke`);
  t.is(get.status, 405);
});

// ---------------------------------------------------------------- /userinfo

test("GET /userinfo with a Bearer token answers the user's claims", async (t) => {
  const s = await serve(t);
  const res = await obtainTokens(s, { authorize: { scope: "openid profile email" } });
  const body = await json200(t, await fetch(`${s.project}/userinfo`, { headers: { authorization: `Bearer ${res.accessToken}` } }));
  t.deepEqual(body, {
    sub: ALICE.id,
    name: `User ${ALICE.id}`,
    preferred_username: ALICE.id,
    email: `${ALICE.id}@example.test`,
    email_verified: false,
  });
  const bare = await obtainTokens(s, { authorize: { scope: "openid" } });
  t.deepEqual(await json200(t, await fetch(`${s.project}/userinfo`, { headers: { authorization: `Bearer ${bare.accessToken}` } })), {
    sub: ALICE.id,
  });
});

test("POST /userinfo with the token in a form body answers the claims", async (t) => {
  const s = await serve(t);
  const res = await obtainTokens(s, { authorize: { scope: "openid email" } });
  const body = await json200(t, await postForm(`${s.project}/userinfo`, { access_token: res.accessToken }));
  t.deepEqual(body, { sub: ALICE.id, email: `${ALICE.id}@example.test`, email_verified: false });
  const header = await json200(t, await postForm(`${s.project}/userinfo`, "", { authorization: `Bearer ${res.accessToken}` }));
  t.deepEqual(header, body);
});

test("/userinfo without a token is 401 with a Bearer realm challenge and no error attribute", async (t) => {
  const s = await serve(t);
  for (const res of [await fetch(`${s.project}/userinfo`), await postForm(`${s.project}/userinfo`, {})]) {
    t.is(res.status, 401);
    const header = res.headers.get("www-authenticate");
    t.is(header, `Bearer realm="${REALM}"`);
    const { scheme, params } = challenge(header);
    t.is(scheme, "Bearer");
    t.deepEqual(Object.keys(params), ["realm"], "RFC 6750 §3.1: no error code when no authentication was attempted");
  }
});

test("/userinfo with an invalid token is 401 with error=\"invalid_token\"", async (t) => {
  const s = await serve(t);
  const res = await obtainTokens(s, { authorize: { scope: "openid" } });
  await s.tokens.revoke({ organization: "iam-admins", project: "iam-admins", token: res.refreshToken, client: { basic: { clientId: WEB.id, clientSecret: WEB.secret } } });
  for (const token of ["garbage", "a.b.c", res.accessToken]) {
    const r = await fetch(`${s.project}/userinfo`, { headers: { authorization: `Bearer ${token}` } });
    const text = await r.text();
    t.is(r.status, 401, text);
    const { scheme, params } = challenge(r.headers.get("www-authenticate"));
    t.is(scheme, "Bearer");
    t.is(params.realm, REALM);
    t.is(params.error, "invalid_token");
    t.is((JSON.parse(text) as { error: string }).error, "invalid_token");
  }
});

test("/userinfo with a token lacking openid is 403 with error=\"insufficient_scope\"", async (t) => {
  const s = await serve(t);
  const res = await obtainTokens(s, { authorize: { scope: `${READ} profile` } });
  const client = await m2mToken(s);
  for (const token of [res.accessToken, client.accessToken]) {
    const r = await fetch(`${s.project}/userinfo`, { headers: { authorization: `Bearer ${token}` } });
    const text = await r.text();
    t.is(r.status, 403, text);
    const { scheme, params } = challenge(r.headers.get("www-authenticate"));
    t.is(scheme, "Bearer");
    t.is(params.realm, REALM);
    t.is(params.error, "insufficient_scope");
    t.is(params.scope, "openid");
    t.is((JSON.parse(text) as { error: string }).error, "insufficient_scope");
  }
});

test("/userinfo with the token both in the header and in the body is 400", async (t) => {
  const s = await serve(t);
  const res = await obtainTokens(s, { authorize: { scope: "openid" } });
  const r = await postForm(`${s.project}/userinfo`, { access_token: res.accessToken }, { authorization: `Bearer ${res.accessToken}` });
  const text = await r.text();
  t.is(r.status, 400, text);
  t.is((JSON.parse(text) as { error: string }).error, "invalid_request");
});
