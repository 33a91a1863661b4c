/**
 * The OpenID Connect parameters of an authorization request (Core
 * §3.1.2.1): id_token_hint, login_hint, response_mode; request objects and
 * in-request registration refused (§6, §7.2.1); the claims parameter (§5.5);
 * and what the ID token and UserInfo then carry of the session and the user.
 */
import { Code } from "@connectrpc/connect";
import test from "ava";
import { DEFAULT } from "../helpers.js";
import {
  ALICE,
  authorizeRequest,
  BOB,
  exchangeRequest,
  expectOAuthError,
  ISSUER,
  issuerOf,
  OTHER,
  READ,
  seedOtherProject,
  WEB,
  WRITE,
} from "../core/flow.js";
import {
  assertLoginContext,
  claimsOf,
  codeOf,
  consentAll,
  DAVE,
  exchangeAtRemember,
  expectRedirected,
  passwordSignIn,
  REMEMBER,
  rememberConsent,
  rememberRequest,
  sessionCore,
  signedInWithTokens,
  verifiedIdToken,
  withSession,
} from "./_support.js";

const ACR = "urn:iam-core:acr:password";

test("an id_token_hint of the session's user lets the session sign the request in, under prompt=none too", async (t) => {
  const c = await sessionCore(t);
  const alice = await signedInWithTokens(c);
  t.true((await withSession(c, alice.session, { idTokenHint: alice.tokens.idToken })).signedIn);
  // The hint was issued to WEB: it names the user for REMEMBER as well.
  await rememberConsent(c, alice.session, { idTokenHint: alice.tokens.idToken });
  const silent = await withSession(c, alice.session, rememberRequest({ idTokenHint: alice.tokens.idToken, prompt: "none" }));
  t.is(claimsOf((await exchangeAtRemember(c, codeOf(silent.redirectTo))).idToken).sub, ALICE.id);
});

test("an id_token_hint of another user than the session's: login_required under prompt=none, otherwise the login page for the hinted user", async (t) => {
  const c = await sessionCore(t);
  const alice = await signedInWithTokens(c);
  const bob = await signedInWithTokens(c, { user: BOB, authorize: { scope: "openid" } });
  // At a client alice never approved: consent_required, telling it nothing of who is signed in.
  await expectRedirected(t, withSession(c, alice.session, { idTokenHint: bob.tokens.idToken, prompt: "none", state: "hint" }), "consent_required", {
    state: "hint",
  });
  await rememberConsent(c, alice.session);
  await expectRedirected(
    t,
    withSession(c, alice.session, rememberRequest({ idTokenHint: bob.tokens.idToken, prompt: "none", state: "hint" })),
    "login_required",
    { state: "hint", to: REMEMBER.redirectUri },
  );
  assertLoginContext(t, await withSession(c, alice.session, { idTokenHint: bob.tokens.idToken }), BOB.id);
  // Without a session, the hint fills the login page as well.
  assertLoginContext(t, await withSession(c, "", { idTokenHint: bob.tokens.idToken }), BOB.id);
  await expectRedirected(t, withSession(c, "", { idTokenHint: bob.tokens.idToken, prompt: "none" }), "login_required");
  // Neither session was touched by it.
  t.true((await withSession(c, alice.session)).signedIn);
  t.true((await withSession(c, bob.session, { scope: "openid" })).signedIn);
});

test("an expired id_token_hint is accepted, as Core §3.1.2.1 allows", async (t) => {
  const c = await sessionCore(t);
  const alice = await signedInWithTokens(c);
  const exp = claimsOf(alice.tokens.idToken).exp!;
  c.clock.advance(exp - Math.floor(c.clock.now() / 1000) + 60);
  await expectOAuthError(t, c.tokens.userInfo({ ...DEFAULT, token: alice.tokens.accessToken }), { error: "invalid_token", code: Code.Unauthenticated });
  t.true((await withSession(c, alice.session, { idTokenHint: alice.tokens.idToken })).signedIn);
  const bobHint = (await signedInWithTokens(c, { user: BOB, authorize: { scope: "openid" } })).tokens.idToken;
  c.clock.advance(1000);
  assertLoginContext(t, await withSession(c, "", { idTokenHint: bobHint }), BOB.id);
});

test("an id_token_hint this project did not issue as an ID token is invalid_request, redirected with state and iss", async (t) => {
  const c = await sessionCore(t);
  await seedOtherProject(c);
  const alice = await signedInWithTokens(c);
  const foreign = await signedInWithTokens(c, { authorize: { ...OTHER, scope: `openid ${READ}` } });
  t.is(claimsOf(foreign.tokens.idToken).iss, issuerOf(OTHER));
  const [header, payload] = alice.tokens.idToken.split(".");
  const unsigned = `${Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url")}.${payload}.`;
  const tampered = `${header}.${Buffer.from(JSON.stringify({ ...claimsOf(alice.tokens.idToken), sub: BOB.id })).toString("base64url")}.${alice.tokens.idToken.split(".")[2]}`;
  const hints = ["garbage", "a.b.c", foreign.tokens.idToken, alice.tokens.accessToken, unsigned, tampered, `${alice.tokens.idToken}x`];
  for (const idTokenHint of hints) {
    await expectRedirected(t, withSession(c, alice.session, { idTokenHint }), "invalid_request");
    await expectRedirected(t, withSession(c, "", { idTokenHint, prompt: "none" }), "invalid_request");
  }
});

test("login_hint fills the login page; a session that signs the request in is not overridden by it", async (t) => {
  const c = await sessionCore(t);
  assertLoginContext(t, await withSession(c, "", { loginHint: BOB.id }), BOB.id);
  assertLoginContext(t, await withSession(c, "", { loginHint: "someone@example.test" }), "someone@example.test");
  await expectRedirected(t, withSession(c, "", { loginHint: "x".repeat(2049) }), "invalid_request");
  const { session } = await passwordSignIn(c);
  const sso = await withSession(c, session, { loginHint: BOB.id });
  t.true(sso.signedIn);
  // A new sign-in asked for: the client's hint wins over the session's user.
  assertLoginContext(t, await withSession(c, session, { loginHint: BOB.id, prompt: "login" }), BOB.id);
});

test("request, request_uri and registration are refused by redirect with their own codes, state kept", async (t) => {
  const c = await sessionCore(t);
  const { session } = await passwordSignIn(c);
  const cases = [
    { field: { request: "eyJhbGciOiJub25lIn0.eyJzdGF0ZSI6ImlubmVyIn0." }, error: "request_not_supported" },
    // Request objects by reference (RFC 9101): whatever the URI, unless it is a pushed request's.
    { field: { requestUri: "https://web.example/request.jwt" }, error: "request_uri_not_supported" },
    { field: { requestUri: "urn:example:request_uri:abc" }, error: "request_uri_not_supported" },
    { field: { requestUri: "URN:IETF:PARAMS:OAUTH:REQUEST_URI:abc" }, error: "request_uri_not_supported" },
    { field: { registration: '{"client_name":"x"}' }, error: "registration_not_supported" },
  ];
  for (const { field, error } of cases) {
    await expectRedirected(t, withSession(c, "", { ...field, state: "outer" }), error, { state: "outer" });
    // A live session changes nothing: the request is refused before anything is signed in.
    await expectRedirected(t, withSession(c, session, { ...field, state: "outer", prompt: "none" }), error, { state: "outer" });
  }
});

test("a pushed request's request_uri that names nothing is invalid_request_uri on the page: no redirect URI can be trusted from it", async (t) => {
  const c = await sessionCore(t);
  const requestUri = "urn:ietf:params:oauth:request_uri:abc";
  await expectOAuthError(t, withSession(c, "", { requestUri, state: "outer" }), { error: "invalid_request_uri", redirect: false });
  await expectOAuthError(t, withSession(c, "", { requestUri, clientId: "" }), { error: "invalid_request", redirect: false });
});

test("with a redirect URI that cannot be trusted, a request object is refused by the error page, never redirected", async (t) => {
  const c = await sessionCore(t);
  for (const field of [{ request: "x.y.z" }, { requestUri: "https://attacker.example/r" }, { registration: "{}" }]) {
    await expectOAuthError(t, withSession(c, "", { ...field, redirectUri: "https://attacker.example/cb" }), {
      error: "invalid_request",
      redirect: false,
    });
    await expectOAuthError(t, withSession(c, "", { ...field, clientId: "no-such-client" }), { error: "invalid_request", redirect: false });
  }
});

test("response_mode other than query is invalid_request, redirected; query is accepted", async (t) => {
  const c = await sessionCore(t);
  for (const responseMode of ["form_post", "fragment", "jwt", "query.jwt", "QUERY"]) {
    await expectRedirected(t, withSession(c, "", { responseMode }), "invalid_request");
  }
  assertLoginContext(t, await withSession(c, "", { responseMode: "query" }));
});

test("a claims parameter that is not a JSON object of claim requests is invalid_request, redirected", async (t) => {
  const c = await sessionCore(t);
  const malformed = [
    "{",
    "not json",
    "[]",
    '"userinfo"',
    "1",
    "null",
    '{"userinfo":5}',
    '{"userinfo":[]}',
    '{"id_token":{"email":5}}',
    '{"userinfo":{"email":{"essential":"yes"}}}',
    '{"id_token":{"acr":{"values":"urn:x"}}}',
    `{"userinfo":{"email":null,"x":"${"y".repeat(4100)}"}}`,
  ];
  for (const claims of malformed) {
    await expectRedirected(t, withSession(c, "", { claims, scope: "openid" }), "invalid_request");
  }
  // Members other than userinfo and id_token are ignored (§5.5).
  assertLoginContext(t, await withSession(c, "", { claims: '{"other":1,"userinfo":{"email":null}}', scope: "openid" }));
});

test("an essential email asked for by claims is offered at consent and released by UserInfo with email_verified", async (t) => {
  const c = await sessionCore(t);
  const signed = await passwordSignIn(c, {
    user: DAVE,
    authorize: { scope: "openid", claims: '{"userinfo":{"email":{"essential":true}}}' },
  });
  t.deepEqual(
    signed.login.scopes.map((s) => s.name),
    ["openid", "email"],
  );
  const tokens = await c.tokens.token(exchangeRequest(await consentAll(c, signed.requestId, signed.login.scopes)));
  t.deepEqual(tokens.scope.split(" ").sort(), ["email", "openid"]);
  const info = await c.tokens.userInfo({ ...DEFAULT, token: tokens.accessToken });
  t.is(info.sub, DAVE.id);
  t.is(info.email, DAVE.email);
  t.is(info.emailVerified, true);
  t.is(info.name, undefined, "profile was neither asked nor granted");

  // Declined at consent: not released.
  const declined = await passwordSignIn(c, { user: DAVE, authorize: { scope: "openid", claims: '{"userinfo":{"email":{"essential":true}}}' } });
  const narrow = await c.tokens.token(exchangeRequest(await consentAll(c, declined.requestId, [{ name: "openid" }])));
  t.is((await c.tokens.userInfo({ ...DEFAULT, token: narrow.accessToken })).email, undefined);

  // A name asked for in the ID token is offered through profile; without openid the claims parameter asks nothing.
  const profile = await passwordSignIn(c, { user: DAVE, authorize: { scope: "openid", claims: '{"id_token":{"given_name":null}}' } });
  t.deepEqual(
    profile.login.scopes.map((s) => s.name),
    ["openid", "profile"],
  );
  const plain = await passwordSignIn(c, { user: DAVE, authorize: { scope: READ, claims: '{"userinfo":{"email":{"essential":true}}}' } });
  t.deepEqual(
    plain.login.scopes.map((s) => s.name),
    [READ],
  );
});

test("the ID token carries sid, acr, amr and auth_time of the sign-in session, by password and by single sign-on alike", async (t) => {
  const c = await sessionCore(t);
  const signInAt = Math.floor(c.clock.now() / 1000);
  const first = await signedInWithTokens(c);
  const byPassword = await verifiedIdToken(c, first.tokens.idToken, WEB.id);
  t.regex(String(byPassword.sid), /^[A-Za-z0-9_-]{22}$/);
  t.is(byPassword.acr, ACR);
  t.deepEqual(byPassword.amr, ["pwd"]);
  t.is(byPassword.auth_time, signInAt);
  t.is(byPassword.iss, ISSUER);

  c.clock.advance(60);
  const sso = await withSession(c, first.session, rememberRequest());
  const tokens = await exchangeAtRemember(c, await consentAll(c, sso.requestId, sso.scopes));
  const bySession = await verifiedIdToken(c, tokens.idToken, REMEMBER.id);
  t.is(bySession.sid, byPassword.sid);
  t.is(bySession.acr, ACR);
  t.deepEqual(bySession.amr, ["pwd"]);
  t.is(bySession.auth_time, signInAt);
  t.is(bySession.iat, signInAt + 60);
  const [session] = await c.core.deps.store.listUserSessions(DEFAULT, ALICE.id);
  t.is(session?.id, String(byPassword.sid));
  t.deepEqual(session?.clients, [WEB.id, REMEMBER.id]);
});

test("profile and email release given_name, family_name and email_verified in the ID token and UserInfo, where the user has them", async (t) => {
  const c = await sessionCore(t);
  const dave = await signedInWithTokens(c, { user: DAVE, authorize: { scope: "openid profile email" } });
  const claims = await verifiedIdToken(c, dave.tokens.idToken, WEB.id);
  t.is(claims.name, DAVE.name);
  t.is(claims.given_name, DAVE.givenName);
  t.is(claims.family_name, DAVE.familyName);
  t.is(claims.preferred_username, DAVE.id);
  t.is(claims.email, DAVE.email);
  t.is(claims.email_verified, true);
  const info = await c.tokens.userInfo({ ...DEFAULT, token: dave.tokens.accessToken });
  t.like(info, { sub: DAVE.id, name: DAVE.name, givenName: DAVE.givenName, familyName: DAVE.familyName, email: DAVE.email, emailVerified: true });

  // Alice has no given or family name, and an unverified address: email_verified is false, the names absent.
  const alice = await signedInWithTokens(c, { authorize: { scope: `openid profile email ${WRITE}` } });
  const aliceClaims = claimsOf(alice.tokens.idToken);
  t.false("given_name" in aliceClaims);
  t.false("family_name" in aliceClaims);
  t.is(aliceClaims.email_verified, false);
  const aliceInfo = await c.tokens.userInfo({ ...DEFAULT, token: alice.tokens.accessToken });
  t.is(aliceInfo.givenName, undefined);
  t.is(aliceInfo.familyName, undefined);
  t.is(aliceInfo.emailVerified, false);

  // email only: no profile claim.
  const emailOnly = await signedInWithTokens(c, { user: DAVE, authorize: { scope: "openid email" } });
  const e = claimsOf(emailOnly.tokens.idToken);
  t.is(e.email_verified, true);
  t.false("given_name" in e);
  t.false("name" in e);
});

test("a code whose session ended before the exchange is invalid_grant, and the grant it would have made is not issued", async (t) => {
  const c = await sessionCore(t);
  const signed = await passwordSignIn(c);
  const code = await consentAll(c, signed.requestId, signed.login.scopes);
  const sid = (await c.core.deps.store.listUserSessions(DEFAULT, ALICE.id))[0]!.id;
  await c.core.deps.store.endSession(DEFAULT, sid, Math.floor(c.clock.now() / 1000));
  await expectOAuthError(t, c.tokens.token(exchangeRequest(code)), { error: "invalid_grant", redirect: false });
  // Spent or not, the code gives nothing afterwards either.
  await expectOAuthError(t, c.tokens.token(exchangeRequest(code)), { error: "invalid_grant" });
  // Another sign-in gives a code that exchanges.
  const again = await signedInWithTokens(c);
  t.not(claimsOf(again.tokens.idToken).sid, sid);
});

// Core §5.5.1: "If the sub (subject) Claim is requested with a specific value
// for the ID Token, the Authorization Server MUST only send a positive
// response if the End-User identified by that sub value has an active session
// with the Authorization Server or has been Authenticated as a result of the
// request." The value is not acted on yet: alice's session answers for bob.
test("a claims request for the ID token's sub with another user's value does not let the session answer for its own user", async (t) => {
  const c = await sessionCore(t);
  const { session } = await passwordSignIn(c);
  await rememberConsent(c, session);
  const claims = JSON.stringify({ id_token: { sub: { value: BOB.id } } });
  await expectRedirected(t, withSession(c, session, rememberRequest({ claims, prompt: "none" })), "login_required", { to: REMEMBER.redirectUri });
  assertLoginContext(t, await withSession(c, session, rememberRequest({ claims })), BOB.id);
});

test("a claims request for the ID token's sub refuses a sign-in as another user with access_denied", async (t) => {
  const c = await sessionCore(t);
  const claims = JSON.stringify({ id_token: { sub: { value: BOB.id } } });
  const started = await c.authorization.authorize(authorizeRequest(rememberRequest({ claims })));
  await expectRedirected(
    t,
    c.authorization.login({ ...DEFAULT, requestId: started.requestId, username: ALICE.id, password: ALICE.password }),
    "access_denied",
    { to: REMEMBER.redirectUri, code: Code.PermissionDenied },
  );
});

test("a claims request whose sub differs from the id_token_hint's is invalid_request", async (t) => {
  const c = await sessionCore(t);
  const { tokens } = await signedInWithTokens(c);
  const claims = JSON.stringify({ id_token: { sub: { value: BOB.id } } });
  await expectRedirected(t, c.authorization.authorize(authorizeRequest(rememberRequest({ claims, idTokenHint: tokens.idToken }))), "invalid_request", {
    to: REMEMBER.redirectUri,
  });
});

test("an essential acr that iam-core cannot satisfy is access_denied; one it offers is granted and returned", async (t) => {
  const c = await sessionCore(t);
  const unmet = JSON.stringify({ id_token: { acr: { essential: true, values: ["urn:example:mfa"] } } });
  await expectRedirected(t, c.authorization.authorize(authorizeRequest(rememberRequest({ claims: unmet }))), "access_denied", {
    to: REMEMBER.redirectUri,
    code: Code.PermissionDenied,
  });
  const met = JSON.stringify({ id_token: { acr: { essential: true, values: ["urn:example:mfa", "urn:iam-core:acr:password"] } } });
  const answer = await c.authorization.authorize(authorizeRequest(rememberRequest({ claims: met })));
  t.not(answer.requestId, "");
});

test("ui_locales, claims_locales, display and acr_values are accepted: the login page, or single sign-on through a session; an unknown display is invalid_request", async (t) => {
  const c = await sessionCore(t);
  const accepted = { uiLocales: "fr-CA fr en", claimsLocales: "en", display: "popup", acrValues: "urn:example:loa:2 urn:iam-core:acr:password" };
  assertLoginContext(t, await c.authorization.authorize(authorizeRequest({ scope: `openid ${READ}`, ...accepted })));
  const { session } = await passwordSignIn(c);
  t.true((await withSession(c, session, accepted)).signedIn, "the session signs the request in as without them");
  await expectRedirected(t, withSession(c, session, { display: "fullscreen" }), "invalid_request");
});
