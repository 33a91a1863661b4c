/**
 * Single sign-on at the core: a sign-in opens a session of the project, and
 * a later authorization request of that browser to any client of the
 * project is signed in by it, prompt deciding when it may (OpenID Connect
 * Core §3.1.2.1), without a password; consent follows the usual rules.
 */
import { Code } from "@connectrpc/connect";
import test from "ava";
import { DEFAULT, queryOf, startTestCore, tempDir } from "../helpers.js";
import {
  ALICE,
  authorizeRequest,
  BOB,
  countRows,
  exchangeRequest,
  expectOAuthError,
  ISSUER,
  OTHER,
  pendingOf,
  READ,
  seedOtherProject,
  setUserEnabled,
  WEB,
  WEB2,
} from "../core/flow.js";
import {
  assertLoginContext,
  claimsOf,
  codeOf,
  consentAll,
  exchangeAtRemember,
  expectRedirected,
  passwordSignIn,
  REMEMBER,
  rememberConsent,
  rememberRequest,
  seedFixtures,
  seedSessionFixtures,
  sessionCore,
  signedInWithTokens,
  withSession,
} from "./_support.js";

test("a sign-in answers the session's cookie: 256 random bits, for the session's absolute lifetime; each sign-in a new one", async (t) => {
  const c = await sessionCore(t, { sessionMax: 7200 });
  const first = await passwordSignIn(c);
  t.regex(first.session, /^[A-Za-z0-9_-]{43}$/);
  t.is(first.login.session!.maxAge, 7200n);
  const second = await passwordSignIn(c);
  t.regex(second.session, /^[A-Za-z0-9_-]{43}$/);
  t.not(second.session, first.session);
  // A failed sign-in opens nothing.
  const auth = await c.authorization.authorize(authorizeRequest());
  await expectOAuthError(t, c.authorization.login({ ...DEFAULT, requestId: auth.requestId, username: ALICE.id, password: "wrong" }), {
    error: "access_denied",
  });
  t.is((await c.core.deps.store.listUserSessions(DEFAULT, ALICE.id)).length, 2);
});

test("the session signs the user in at another client of the project without a password; consent is still asked", async (t) => {
  const c = await sessionCore(t);
  const { session } = await passwordSignIn(c);
  const sso = await withSession(c, session, { clientId: WEB2.id, redirectUri: WEB.redirectUri, state: "second" });
  t.true(sso.signedIn);
  t.is(sso.redirectTo, "");
  t.deepEqual(
    sso.scopes.map((s) => s.name),
    ["openid", READ],
  );
  t.true(sso.scopes.every((s) => s.description !== ""));
  t.is(sso.client?.id, WEB2.id);
  // The pending request is signed in as alice: consent completes it.
  const pending = await pendingOf(c, sso.requestId);
  t.is(pending?.userId, ALICE.id);
  const answer = await c.authorization.consent({ ...DEFAULT, requestId: sso.requestId, scopes: ["openid", READ] });
  t.is(queryOf(answer.redirectTo).get("state"), "second");
  const tokens = await c.tokens.token(exchangeRequest(codeOf(answer.redirectTo), { basic: { clientId: WEB2.id, clientSecret: WEB2.secret } }));
  t.is(claimsOf(tokens.idToken).sub, ALICE.id);
  t.is(claimsOf(tokens.idToken).aud, WEB2.id);
});

test("with a remembered consent the session completes the request at once: the way back to the client with a code, state and iss", async (t) => {
  const c = await sessionCore(t);
  const { session } = await passwordSignIn(c);
  await rememberConsent(c, session);
  const again = await withSession(c, session, rememberRequest({ state: "silent" }));
  t.false(again.signedIn);
  t.deepEqual(again.scopes, []);
  const url = new URL(again.redirectTo);
  t.is(`${url.origin}${url.pathname}`, REMEMBER.redirectUri);
  t.is(url.searchParams.get("state"), "silent");
  t.is(url.searchParams.get("iss"), ISSUER);
  const tokens = await exchangeAtRemember(c, codeOf(again.redirectTo));
  t.is(claimsOf(tokens.idToken).sub, ALICE.id);
  // The request is spent.
  t.is(await pendingOf(c, again.requestId), undefined);
});

test("prompt=none without a session is login_required, redirected with state and iss, and nothing stays pending", async (t) => {
  const c = await sessionCore(t);
  const before = await countRows(c, "authorization_requests");
  await expectRedirected(t, c.authorization.authorize(authorizeRequest({ prompt: "none" })), "login_required");
  await expectRedirected(t, withSession(c, "", { prompt: "none", state: "s2" }), "login_required", { state: "s2" });
  // Without state, none comes back.
  await expectOAuthError(t, withSession(c, "", { prompt: "none", state: "" }), {
    error: "login_required",
    code: Code.FailedPrecondition,
    redirect: { to: WEB.redirectUri, iss: ISSUER },
  });
  t.is(await countRows(c, "authorization_requests"), before);
});

test("prompt=none with a session: consent_required when consent is needed, the code when it is remembered", async (t) => {
  const c = await sessionCore(t);
  const { session } = await passwordSignIn(c);
  await expectRedirected(t, withSession(c, session, { prompt: "none", state: "needs-consent" }), "consent_required", { state: "needs-consent" });
  await expectRedirected(t, withSession(c, session, rememberRequest({ prompt: "none" })), "consent_required", { to: REMEMBER.redirectUri });

  await rememberConsent(c, session);
  const silent = await withSession(c, session, rememberRequest({ prompt: "none", state: "silent" }));
  t.is(queryOf(silent.redirectTo).get("state"), "silent");
  t.is(queryOf(silent.redirectTo).get("iss"), ISSUER);
  const tokens = await exchangeAtRemember(c, codeOf(silent.redirectTo));
  t.is(claimsOf(tokens.idToken).sub, ALICE.id);
});

test("prompt: none with another value, or an unknown value, is invalid_request, redirected", async (t) => {
  const c = await sessionCore(t);
  const { session } = await passwordSignIn(c);
  for (const prompt of ["none login", "login none", "none consent", "none select_account", "create", "LOGIN", "none bogus"]) {
    await expectRedirected(t, withSession(c, session, { prompt }), "invalid_request");
    await expectRedirected(t, withSession(c, "", { prompt }), "invalid_request");
  }
  // A repeated value is the same value.
  t.true((await withSession(c, session, { prompt: "consent consent" })).signedIn);
});

test("prompt=login and prompt=select_account with a live session ask for a sign-in, the session's user filled in", async (t) => {
  const c = await sessionCore(t);
  const { session } = await passwordSignIn(c);
  for (const prompt of ["login", "select_account", "login consent", "select_account login"]) {
    const answer = await withSession(c, session, { prompt });
    assertLoginContext(t, answer, ALICE.id);
    t.is((await pendingOf(c, answer.requestId))?.userId, null, "the pending request is not signed in");
  }
  // The session itself is untouched: a plain request is still signed in.
  t.true((await withSession(c, session)).signedIn);
});

test("prompt=consent with a remembered consent shows the consent page rather than completing the request", async (t) => {
  const c = await sessionCore(t);
  const { session } = await passwordSignIn(c);
  await rememberConsent(c, session);
  const answer = await withSession(c, session, rememberRequest({ prompt: "consent" }));
  t.true(answer.signedIn);
  t.is(answer.redirectTo, "");
  t.deepEqual(
    answer.scopes.map((s) => s.name),
    ["openid", READ],
  );
  // prompt=consent at a password sign-in, too.
  const signed = await passwordSignIn(c, { authorize: rememberRequest({ prompt: "consent" }) });
  t.is(signed.login.redirectTo, "");
  t.deepEqual(
    signed.login.scopes.map((s) => s.name),
    ["openid", READ],
  );
});

test("a new sign-in of the same user keeps the session (same sid) with a new secret; the old secret is worth nothing", async (t) => {
  const c = await sessionCore(t);
  const first = await signedInWithTokens(c);
  const sid = claimsOf(first.tokens.idToken).sid;
  t.regex(String(sid), /^[A-Za-z0-9_-]{22}$/);

  c.clock.advance(120);
  const again = await signedInWithTokens(c, { authorize: { prompt: "login" }, previous: first.session });
  t.not(again.session, first.session);
  const claims = claimsOf(again.tokens.idToken);
  t.is(claims.sid, sid, "the same session");
  t.is(claims.auth_time, Number(claimsOf(first.tokens.idToken).auth_time) + 120, "a new authentication time");
  t.is((await c.core.deps.store.listUserSessions(DEFAULT, ALICE.id)).length, 1);
  // The first tokens stay valid: the session did not end.
  t.true((await c.tokens.verifyToken({ token: first.tokens.accessToken })).active);

  assertLoginContext(t, await withSession(c, first.session));
  await expectRedirected(t, withSession(c, first.session, { prompt: "none" }), "login_required");
  t.true((await withSession(c, again.session)).signedIn);
});

test("a sign-in of another user in the same browser ends the previous session and revokes the tokens issued in it", async (t) => {
  const c = await sessionCore(t);
  const alice = await signedInWithTokens(c);
  const aliceSid = claimsOf(alice.tokens.idToken).sid;
  const bob = await signedInWithTokens(c, { user: BOB, authorize: { prompt: "login", scope: "openid" }, previous: alice.session });
  t.not(claimsOf(bob.tokens.idToken).sid, aliceSid);

  t.false((await c.tokens.verifyToken({ token: alice.tokens.accessToken })).active);
  await expectOAuthError(t, c.tokens.token({ ...DEFAULT, grantType: "refresh_token", refreshToken: alice.tokens.refreshToken, basic: { clientId: WEB.id, clientSecret: WEB.secret } }), {
    error: "invalid_grant",
  });
  t.true((await c.tokens.verifyToken({ token: bob.tokens.accessToken })).active);
  t.deepEqual(await c.core.deps.store.listUserSessions(DEFAULT, ALICE.id), []);
  t.not((await c.core.deps.store.getSession(DEFAULT, String(aliceSid)))?.endedAt, null);
  assertLoginContext(t, await withSession(c, alice.session));
  const sso = await withSession(c, bob.session, { scope: "openid" });
  t.true(sso.signedIn);
  t.is((await pendingOf(c, sso.requestId))?.userId, BOB.id);
});

test("a forged, malformed, empty or foreign cookie is no session: the plain login page, never an error", async (t) => {
  const c = await sessionCore(t);
  await seedOtherProject(c);
  const { session } = await passwordSignIn(c);
  const foreign = await passwordSignIn(c, { authorize: { ...OTHER, scope: `openid ${READ}` } });
  const cookies = [
    "",
    "x",
    "A".repeat(43),
    `${session.slice(0, 42)}${session[42] === "A" ? "B" : "A"}`,
    `${session} `,
    `${session}A`,
    session.slice(0, 42),
    "%00".repeat(20),
    "é".repeat(43),
    "a".repeat(5000),
    foreign.session,
  ];
  for (const cookie of cookies) {
    assertLoginContext(t, await withSession(c, cookie));
    await expectRedirected(t, withSession(c, cookie, { prompt: "none" }), "login_required");
  }
  // The foreign session still serves its own project.
  t.true((await withSession(c, foreign.session, { ...OTHER })).signedIn);
});

test("a sign-in in another project presenting this project's cookie opens a session there and leaves this one alone", async (t) => {
  const c = await sessionCore(t);
  await seedOtherProject(c);
  const here = await passwordSignIn(c);
  const there = await passwordSignIn(c, { authorize: { ...OTHER, scope: `openid ${READ}` }, previous: here.session });
  t.not(there.session, here.session);
  t.true((await withSession(c, here.session)).signedIn);
  t.true((await withSession(c, there.session, { ...OTHER })).signedIn);
  t.is((await c.core.deps.store.listUserSessions(DEFAULT, ALICE.id)).length, 1);
  t.is((await c.core.deps.store.listUserSessions(OTHER, ALICE.id)).length, 1);
});

test("the session of a disabled user signs nobody in; enabled again, it does", async (t) => {
  const c = await sessionCore(t);
  const { session } = await passwordSignIn(c);
  await setUserEnabled(c, DEFAULT, ALICE.id, false);
  assertLoginContext(t, await withSession(c, session));
  await expectRedirected(t, withSession(c, session, { prompt: "none" }), "login_required");
  // Disabled behind the store's back, the session was not ended: it serves again once the user is enabled.
  await setUserEnabled(c, DEFAULT, ALICE.id, true);
  t.true((await withSession(c, session)).signedIn);
});

test("a session ended by the store signs nobody in, and a code issued in it no longer exchanges", async (t) => {
  const c = await sessionCore(t);
  const signed = await passwordSignIn(c);
  const code = await consentAll(c, signed.requestId, signed.login.scopes);
  const [live] = await c.core.deps.store.listUserSessions(DEFAULT, ALICE.id);
  t.truthy(await c.core.deps.store.endSession(DEFAULT, live!.id, Math.floor(c.clock.now() / 1000)));
  await expectOAuthError(t, c.tokens.token(exchangeRequest(code)), { error: "invalid_grant", redirect: false });
  assertLoginContext(t, await withSession(c, signed.session));
});

test("ending a session revokes the tokens issued in it, and not those of the user's other session", async (t) => {
  const c = await sessionCore(t);
  const first = await signedInWithTokens(c);
  const second = await signedInWithTokens(c);
  const firstSid = String(claimsOf(first.tokens.idToken).sid);
  t.not(claimsOf(second.tokens.idToken).sid, firstSid);
  // Tokens of a second client signed in by the first session go too.
  const remembered = await exchangeAtRemember(c, await rememberConsent(c, first.session));
  t.is(claimsOf(remembered.idToken).sid, firstSid);

  const ended = await c.core.deps.store.endSession(DEFAULT, firstSid, Math.floor(c.clock.now() / 1000));
  t.deepEqual(ended?.clients, [WEB.id, REMEMBER.id]);
  t.false((await c.tokens.verifyToken({ token: first.tokens.accessToken })).active);
  t.false((await c.tokens.verifyToken({ token: remembered.accessToken })).active);
  t.true((await c.tokens.verifyToken({ token: second.tokens.accessToken })).active);
  await expectOAuthError(t, c.tokens.token({ ...DEFAULT, grantType: "refresh_token", refreshToken: first.tokens.refreshToken, basic: { clientId: WEB.id, clientSecret: WEB.secret } }), {
    error: "invalid_grant",
  });
  const refreshed = await c.tokens.token({ ...DEFAULT, grantType: "refresh_token", refreshToken: second.tokens.refreshToken, basic: { clientId: WEB.id, clientSecret: WEB.secret } });
  t.true((await c.tokens.verifyToken({ token: refreshed.accessToken })).active);
  t.true((await withSession(c, second.session)).signedIn);
  assertLoginContext(t, await withSession(c, first.session));
});

test("two cores on one database: a session opened by one serves the other, and ended by one is refused by the other at the next request", async (t) => {
  const tmp = tempDir();
  t.teardown(tmp.cleanup);
  const dbPath = `${tmp.dir}/iam.db`;
  const one = await startTestCore({ dbPath });
  t.teardown(() => one.close());
  await seedFixtures(one);
  await seedSessionFixtures(one);
  const two = await startTestCore({ dbPath, clock: one.clock });
  t.teardown(() => two.close());

  const { session } = await passwordSignIn(one);
  t.true((await withSession(two, session)).signedIn);
  await rememberConsent(two, session);
  t.not((await withSession(two, session, rememberRequest({ prompt: "none" }))).redirectTo, "");

  const [live] = await one.core.deps.store.listUserSessions(DEFAULT, ALICE.id);
  await one.core.deps.store.endSession(DEFAULT, live!.id, Math.floor(one.clock.now() / 1000));
  assertLoginContext(t, await withSession(two, session));
  await expectRedirected(t, withSession(two, session, rememberRequest({ prompt: "none" })), "login_required", { to: REMEMBER.redirectUri });
});
