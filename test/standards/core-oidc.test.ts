/**
 * OpenID Connect Core 1.0 on the core's RPCs: the ID token (§2, §3.1.3.6,
 * §3.1.3.7, §12.2), the OIDC scopes at Authorize/Login (§3.1.2.1, §5.4) and
 * the UserInfo endpoint (§5.3, RFC 6750 §3.1 errors).
 */
import { Code } from "@connectrpc/connect";
import test from "ava";
import { decodeJwt } from "jose";
import { DEFAULT, queryOf, seedClient } from "../helpers.js";
import {
  ALICE,
  authorizeRequest,
  exchangeRequest,
  expectOAuthError,
  issuerOf,
  obtainCode,
  obtainTokens,
  OTHER,
  READ,
  refreshRequest,
  seedOtherProject,
  setUserEnabled,
  WEB,
  WEB2,
  WRITE,
  nowSeconds,
} from "../core/flow.js";
import { DAVE, expectedAtHash, headerOf, m2mToken, standardCore, verifyIdToken } from "./core-support.js";

const NONCE = "n-0S6_WzA2Mj";

test("with openid the token response carries an ID token with the claims of Core §2 and §3.1.3.6", async (t) => {
  const c = await standardCore(t);
  // Login at T0, consent and exchange 30 s later: auth_time is the login, iat the issuance.
  const request = authorizeRequest({ scope: `openid ${READ}`, nonce: NONCE });
  const auth = await c.authorization.authorize(request);
  const loginTime = nowSeconds(c);
  const login = await c.authorization.login({ ...DEFAULT, requestId: auth.requestId, username: ALICE.id, password: ALICE.password });
  t.deepEqual(login.scopes.map((s) => s.name).sort(), ["openid", READ].sort());
  c.clock.advance(30);
  const consent = await c.authorization.consent({ ...DEFAULT, requestId: auth.requestId, scopes: ["openid", READ] });
  const code = queryOf(consent.redirectTo).get("code")!;
  c.clock.advance(5);
  const res = await c.tokens.token(exchangeRequest(code));
  t.not(res.idToken, "", "an ID token is issued");
  t.deepEqual(res.scope.split(" ").sort(), ["openid", READ].sort());

  const { payload, protectedHeader } = await verifyIdToken(c, res.idToken, WEB.id);
  const jwks = await c.tokens.getJwks(DEFAULT);
  t.is(protectedHeader.alg, "RS256", "the default of a client that registered no algorithm");
  t.is(protectedHeader.typ, "JWT");
  t.is(protectedHeader.kid, jwks.keys.find((k) => k.alg === "RS256")!.kid, "kid of the project's current RS256 key");

  t.is(payload.iss, issuerOf(DEFAULT));
  t.is(payload.sub, ALICE.id);
  t.is(payload.aud, WEB.id);
  t.is(payload.azp, WEB.id);
  t.is(payload.iat, nowSeconds(c));
  t.is(typeof payload.exp, "number");
  t.true(payload.exp! > payload.iat!, "exp after iat");
  t.is(payload.auth_time, loginTime, "auth_time is when the user logged in");
  t.is(payload.nonce, NONCE);
  t.is(payload.at_hash, expectedAtHash(res.accessToken));
  // The sign-in session and how the user authenticated in it.
  t.is(typeof payload.sid, "string");
  t.is(payload.acr, "urn:iam-core:acr:password");
  t.deepEqual(payload.amr, ["pwd"]);
  // Only openid and a permission: no profile or email claims.
  t.deepEqual(Object.keys(payload).sort(), ["acr", "amr", "at_hash", "aud", "auth_time", "azp", "exp", "iat", "iss", "nonce", "sid", "sub"]);
});

test("the ID token has no nonce when the authorization request sent none", async (t) => {
  const c = await standardCore(t);
  const res = await obtainTokens(c, { authorize: { scope: "openid" } });
  const { payload } = await verifyIdToken(c, res.idToken, WEB.id);
  t.false("nonce" in payload);
  t.is(payload.sub, ALICE.id);
  t.is(payload.at_hash, expectedAtHash(res.accessToken));
});

test("profile releases name and preferred_username, email releases email, in the ID token", async (t) => {
  const c = await standardCore(t);
  const both = await obtainTokens(c, { authorize: { scope: "openid profile email", nonce: NONCE } });
  const { payload } = await verifyIdToken(c, both.idToken, WEB.id);
  t.is(payload.name, `User ${ALICE.id}`);
  t.is(payload.preferred_username, ALICE.id);
  t.is(payload.email, `${ALICE.id}@example.test`);

  const profile = await obtainTokens(c, { authorize: { scope: "openid profile" } });
  const p = (await verifyIdToken(c, profile.idToken, WEB.id)).payload;
  t.is(p.name, `User ${ALICE.id}`);
  t.is(p.preferred_username, ALICE.id);
  t.false("email" in p);

  const email = await obtainTokens(c, { authorize: { scope: "openid email" } });
  const e = (await verifyIdToken(c, email.idToken, WEB.id)).payload;
  t.is(e.email, `${ALICE.id}@example.test`);
  t.false("name" in e);
  t.false("preferred_username" in e);
});

test("without openid no ID token is issued, even with profile and email", async (t) => {
  const c = await standardCore(t);
  const plain = await obtainTokens(c, { authorize: { scope: `${READ} ${WRITE}`, nonce: NONCE } });
  t.is(plain.idToken, "");
  const noOpenid = await obtainTokens(c, { authorize: { scope: `${READ} profile email` } });
  t.is(noOpenid.idToken, "");
  t.deepEqual(noOpenid.scope.split(" ").sort(), [READ, "email", "profile"].sort());
  const refreshed = await c.tokens.token(refreshRequest(plain.refreshToken));
  t.is(refreshed.idToken, "", "no ID token on refresh either");
});

test("the ID token is not issued when the user declines openid at consent", async (t) => {
  const c = await standardCore(t);
  const res = await obtainTokens(c, { authorize: { scope: `openid ${READ}` }, approve: [READ] });
  t.is(res.idToken, "");
  t.is(res.scope, READ);
});

test("a refresh with openid returns a new ID token, without nonce, for the new access token", async (t) => {
  const c = await standardCore(t);
  const loginTime = nowSeconds(c);
  const first = await obtainTokens(c, { authorize: { scope: `openid profile ${READ}`, nonce: NONCE } });
  t.is((await verifyIdToken(c, first.idToken, WEB.id)).payload.nonce, NONCE);
  c.clock.advance(120);
  const second = await c.tokens.token(refreshRequest(first.refreshToken));
  t.not(second.idToken, "");
  t.not(second.idToken, first.idToken);
  const { payload, protectedHeader } = await verifyIdToken(c, second.idToken, WEB.id);
  t.is(protectedHeader.typ, "JWT");
  t.false("nonce" in payload, "a refreshed ID token carries no nonce");
  t.is(payload.sub, ALICE.id);
  t.is(payload.aud, WEB.id);
  t.is(payload.azp, WEB.id);
  t.is(payload.iat, nowSeconds(c));
  t.is(payload.auth_time, loginTime, "auth_time stays the original login");
  t.is(payload.at_hash, expectedAtHash(second.accessToken));
  t.not(payload.at_hash, expectedAtHash(first.accessToken));
  t.is(payload.name, `User ${ALICE.id}`);

  // Narrowing away openid on refresh: no ID token.
  c.clock.advance(1);
  const narrowed = await c.tokens.token(refreshRequest(second.refreshToken, { scope: READ }));
  t.is(narrowed.idToken, "");
});

test("openid, profile and email are accepted for a user who holds no permission, and shown at Login with descriptions", async (t) => {
  const c = await standardCore(t);
  const auth = await c.authorization.authorize(authorizeRequest({ scope: "openid profile email", nonce: NONCE }));
  t.deepEqual([...auth.scopesRequested].sort(), ["email", "openid", "profile"]);
  const login = await c.authorization.login({ ...DEFAULT, requestId: auth.requestId, username: DAVE.id, password: DAVE.password });
  t.deepEqual(login.scopes.map((s) => s.name).sort(), ["email", "openid", "profile"]);
  for (const scope of login.scopes) {
    t.true(scope.description.trim().length > 0, `${scope.name} has a description`);
    t.not(scope.description, scope.name);
  }
  const consent = await c.authorization.consent({ ...DEFAULT, requestId: auth.requestId, scopes: login.scopes.map((s) => s.name) });
  const res = await c.tokens.token(exchangeRequest(queryOf(consent.redirectTo).get("code")!));
  t.deepEqual(res.scope.split(" ").sort(), ["email", "openid", "profile"]);
  const { payload } = await verifyIdToken(c, res.idToken, WEB.id);
  t.is(payload.sub, DAVE.id);
  t.is(payload.nonce, NONCE);
  t.is(payload.preferred_username, DAVE.id);
  t.is(payload.email, `${DAVE.id}@example.test`);
  const info = await c.tokens.userInfo({ ...DEFAULT, token: res.accessToken });
  t.is(info.sub, DAVE.id);
  t.is(info.email, `${DAVE.id}@example.test`);
});

test("UserInfo answers sub and only the claims of the granted scopes", async (t) => {
  const c = await standardCore(t);
  const all = await obtainTokens(c, { authorize: { scope: "openid profile email" } });
  const full = await c.tokens.userInfo({ ...DEFAULT, token: all.accessToken });
  t.is(full.sub, ALICE.id);
  t.is(full.name, `User ${ALICE.id}`);
  t.is(full.preferredUsername, ALICE.id);
  t.is(full.email, `${ALICE.id}@example.test`);

  const openidOnly = await obtainTokens(c, { authorize: { scope: `openid ${READ}` } });
  const bare = await c.tokens.userInfo({ ...DEFAULT, token: openidOnly.accessToken });
  t.is(bare.sub, ALICE.id);
  t.is(bare.name, undefined);
  t.is(bare.preferredUsername, undefined);
  t.is(bare.email, undefined);

  const emailOnly = await obtainTokens(c, { authorize: { scope: "openid email" } });
  const e = await c.tokens.userInfo({ ...DEFAULT, token: emailOnly.accessToken });
  t.is(e.email, `${ALICE.id}@example.test`);
  t.is(e.name, undefined);
  t.is(e.preferredUsername, undefined);

  // Requested but not approved at consent: not granted, not released.
  const declined = await obtainTokens(c, { authorize: { scope: "openid profile email" }, approve: ["openid", "email"] });
  const d = await c.tokens.userInfo({ ...DEFAULT, token: declined.accessToken });
  t.is(d.email, `${ALICE.id}@example.test`);
  t.is(d.name, undefined);
  t.is(d.preferredUsername, undefined);

  // A refreshed token narrowed to openid releases only sub.
  const narrowed = await c.tokens.token(refreshRequest(all.refreshToken, { scope: "openid" }));
  const n = await c.tokens.userInfo({ ...DEFAULT, token: narrowed.accessToken });
  t.is(n.sub, ALICE.id);
  t.is(n.name, undefined);
  t.is(n.email, undefined);
});

test("UserInfo refuses a token without openid, and a client_credentials token, with insufficient_scope", async (t) => {
  const c = await standardCore(t);
  const noOpenid = await obtainTokens(c, { authorize: { scope: `${READ} profile email` } });
  await expectOAuthError(t, c.tokens.userInfo({ ...DEFAULT, token: noOpenid.accessToken }), {
    error: "insufficient_scope",
    code: Code.PermissionDenied,
  });
  const client = await m2mToken(c);
  t.true((await c.tokens.verifyToken({ token: client.accessToken })).active, "the client token itself is valid");
  await expectOAuthError(t, c.tokens.userInfo({ ...DEFAULT, token: client.accessToken }), {
    error: "insufficient_scope",
    code: Code.PermissionDenied,
  });
});

test("UserInfo answers invalid_token for garbage, expired, revoked and foreign-project tokens", async (t) => {
  const c = await standardCore(t);
  await seedOtherProject(c);
  const invalidToken = { error: "invalid_token", code: Code.Unauthenticated } as const;

  for (const garbage of ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", " "]) {
    await expectOAuthError(t, c.tokens.userInfo({ ...DEFAULT, token: garbage }), invalidToken);
  }

  // An ID token is not an access token (typ JWT, not at+jwt).
  const withId = await obtainTokens(c, { authorize: { scope: "openid" } });
  await expectOAuthError(t, c.tokens.userInfo({ ...DEFAULT, token: withId.idToken }), invalidToken);

  // Revoked: its grant revoked through the revocation endpoint.
  const revoked = await obtainTokens(c, { authorize: { scope: "openid" } });
  await c.tokens.userInfo({ ...DEFAULT, token: revoked.accessToken });
  await c.tokens.revoke({ ...DEFAULT, token: revoked.refreshToken, client: { basic: { clientId: WEB.id, clientSecret: WEB.secret } } });
  await expectOAuthError(t, c.tokens.userInfo({ ...DEFAULT, token: revoked.accessToken }), invalidToken);

  // Another project's token, presented at this project's endpoint.
  const { code } = await obtainCode(c, { authorize: { ...OTHER, scope: "openid" } });
  const foreign = await c.tokens.token(exchangeRequest(code, { ...OTHER }));
  t.is((await c.tokens.userInfo({ ...OTHER, token: foreign.accessToken })).sub, ALICE.id, "valid at its own project");
  await expectOAuthError(t, c.tokens.userInfo({ ...DEFAULT, token: foreign.accessToken }), invalidToken);
  // And the other way round.
  const own = await obtainTokens(c, { authorize: { scope: "openid" } });
  await expectOAuthError(t, c.tokens.userInfo({ ...OTHER, token: own.accessToken }), invalidToken);

  // Expired: past the access token's lifetime.
  const expiring = await obtainTokens(c, { authorize: { scope: "openid" } });
  c.clock.advance(WEB.accessTokenTtl - 1);
  t.is((await c.tokens.userInfo({ ...DEFAULT, token: expiring.accessToken })).sub, ALICE.id);
  c.clock.advance(2);
  await expectOAuthError(t, c.tokens.userInfo({ ...DEFAULT, token: expiring.accessToken }), invalidToken);
});

test("UserInfo answers invalid_token once the user is disabled", async (t) => {
  const c = await standardCore(t);
  const res = await obtainTokens(c, { authorize: { scope: "openid profile" } });
  t.is((await c.tokens.userInfo({ ...DEFAULT, token: res.accessToken })).sub, ALICE.id);
  await setUserEnabled(c, DEFAULT, ALICE.id, false);
  await expectOAuthError(t, c.tokens.userInfo({ ...DEFAULT, token: res.accessToken }), {
    error: "invalid_token",
    code: Code.Unauthenticated,
  });
});

test("the password grant with openid also issues an ID token: auth_time now, no nonce", async (t) => {
  const c = await standardCore(t);
  await seedClient(c.core, { id: "legacy-app", secret: "legacy-secret", grantTypes: ["password", "refresh_token"] });
  c.clock.advance(7);
  const res = await c.tokens.token({
    ...DEFAULT,
    grantType: "password",
    username: ALICE.id,
    password: ALICE.password,
    scope: "openid profile",
    basic: { clientId: "legacy-app", clientSecret: "legacy-secret" },
  });
  const { payload } = await verifyIdToken(c, res.idToken, "legacy-app");
  t.is(payload.sub, ALICE.id);
  t.is(payload.aud, "legacy-app");
  t.is(payload.azp, "legacy-app");
  t.is(payload.auth_time, nowSeconds(c));
  t.false("nonce" in payload);
  t.is(payload.at_hash, expectedAtHash(res.accessToken));
  t.is(payload.preferred_username, ALICE.id);
});

test("UserInfo without a token is invalid_request", async (t) => {
  const c = await standardCore(t);
  await expectOAuthError(t, c.tokens.userInfo({ ...DEFAULT, token: "" }), { error: "invalid_request" });
});

test("the ID token is for its client: another client's ID token does not verify with that client as audience", async (t) => {
  const c = await standardCore(t);
  const res = await obtainTokens(c, { authorize: { scope: "openid" } });
  await t.throwsAsync(verifyIdToken(c, res.idToken, WEB2.id));
  const claims = decodeJwt(res.idToken);
  t.is(claims.aud, WEB.id);
  t.is(headerOf(res.idToken).typ, "JWT");
  t.is(headerOf(res.accessToken).typ, "at+jwt", "the access token is typed differently (RFC 9068)");
});
