/**
 * How long a sign-in session serves: `max_age` of the request (OpenID
 * Connect Core §3.1.2.1), the idle lifetime (IAM_SESSION_IDLE) and the
 * absolute one (IAM_SESSION_MAX), all measured on the test's clock.
 */
import test from "ava";
import { ALICE } from "../core/flow.js";
import {
  assertLoginContext,
  claimsOf,
  consentAll,
  exchangeAtRemember,
  expectRedirected,
  passwordSignIn,
  rememberConsent,
  REMEMBER,
  rememberRequest,
  sessionCore,
  withSession,
} from "./_support.js";

const IDLE = 600;
const MAX = 3600;

test("max_age=0 always asks for a new sign-in, the session's user filled in; under prompt=none it is login_required", async (t) => {
  const c = await sessionCore(t);
  const { session } = await passwordSignIn(c);
  assertLoginContext(t, await withSession(c, session, { maxAge: "0" }), ALICE.id);
  // At a client the user approved: login_required. At one never approved: consent_required, which tells it
  // nothing of who is signed in.
  await rememberConsent(c, session);
  await expectRedirected(t, withSession(c, session, rememberRequest({ maxAge: "0", prompt: "none" })), "login_required", { to: REMEMBER.redirectUri });
  await expectRedirected(t, withSession(c, session, { maxAge: "0", prompt: "none" }), "consent_required");
});

test("max_age larger than the sign-in's age: single sign-on, and auth_time in the ID token is the time of the password sign-in", async (t) => {
  const c = await sessionCore(t);
  const signInAt = Math.floor(c.clock.now() / 1000);
  const { session } = await passwordSignIn(c);
  c.clock.advance(300);
  const sso = await withSession(c, session, rememberRequest({ maxAge: "3600" }));
  t.true(sso.signedIn);
  const tokens = await exchangeAtRemember(c, await consentAll(c, sso.requestId, sso.scopes));
  const claims = claimsOf(tokens.idToken);
  t.is(claims.auth_time, signInAt);
  t.is(claims.iat, signInAt + 300);
  // At exactly max_age seconds the sign-in is not older than max_age.
  c.clock.advance(100);
  t.true((await withSession(c, session, { maxAge: "400" })).signedIn);
});

test("a sign-in older than max_age asks for a new one; the new sign-in moves auth_time", async (t) => {
  const c = await sessionCore(t);
  const first = await passwordSignIn(c);
  c.clock.advance(200);
  assertLoginContext(t, await withSession(c, first.session, { maxAge: "100" }), ALICE.id);
  await expectRedirected(t, withSession(c, first.session, { maxAge: "100", prompt: "none" }), "consent_required");
  await rememberConsent(c, first.session);
  await expectRedirected(t, withSession(c, first.session, rememberRequest({ maxAge: "100", prompt: "none" })), "login_required", {
    to: REMEMBER.redirectUri,
  });

  const again = await passwordSignIn(c, { authorize: rememberRequest({ maxAge: "100" }), previous: first.session });
  const tokens = await exchangeAtRemember(c, new URL(again.login.redirectTo).searchParams.get("code")!);
  t.is(claimsOf(tokens.idToken).auth_time, Math.floor(c.clock.now() / 1000));
  t.true((await withSession(c, again.session, { maxAge: "100" })).signedIn);
});

test("a max_age that is not a whole number of seconds is invalid_request, redirected", async (t) => {
  const c = await sessionCore(t);
  const { session } = await passwordSignIn(c);
  for (const maxAge of ["abc", "-1", "1.5", "1e3", " 10", "0x10", "10 ", "+5", "\u0661"]) {
    await expectRedirected(t, withSession(c, session, { maxAge }), "invalid_request");
  }
});

test("a session unused for IAM_SESSION_IDLE ends: just before, it serves; at the limit, it does not", async (t) => {
  const c = await sessionCore(t, { sessionIdle: IDLE, sessionMax: MAX });
  // Two sessions opened at once, each looked at once: a look is not counted as a use.
  const early = await passwordSignIn(c);
  const late = await passwordSignIn(c);
  c.clock.advance(IDLE - 1);
  t.true((await withSession(c, early.session)).signedIn);
  c.clock.advance(1);
  assertLoginContext(t, await withSession(c, late.session));
  await expectRedirected(t, withSession(c, late.session, { prompt: "none" }), "login_required");
});

test("a sign-in through the session within the idle window extends it", async (t) => {
  const c = await sessionCore(t, { sessionIdle: IDLE, sessionMax: MAX });
  const { session } = await passwordSignIn(c);
  await rememberConsent(c, session);
  c.clock.advance(IDLE - 10);
  t.not((await withSession(c, session, rememberRequest({ prompt: "none" }))).redirectTo, "");
  c.clock.advance(IDLE - 10);
  // 2 × (IDLE - 10) after the password sign-in, IDLE - 10 after the last use.
  t.not((await withSession(c, session, rememberRequest({ prompt: "none" }))).redirectTo, "");
  c.clock.advance(IDLE);
  await expectRedirected(t, withSession(c, session, rememberRequest({ prompt: "none" })), "login_required", {
    to: rememberRequest().redirectUri!,
  });
});

test("a session kept in use ends at IAM_SESSION_MAX after the sign-in, whatever its use", async (t) => {
  const c = await sessionCore(t, { sessionIdle: IDLE, sessionMax: MAX });
  const { session } = await passwordSignIn(c);
  await rememberConsent(c, session);
  let elapsed = 0;
  while (elapsed + 500 < MAX) {
    c.clock.advance(500);
    elapsed += 500;
    t.not((await withSession(c, session, rememberRequest({ prompt: "none" }))).redirectTo, "", `still live after ${elapsed} s`);
  }
  c.clock.advance(MAX - elapsed - 1);
  t.true((await withSession(c, session)).signedIn, "one second before the end");
  c.clock.advance(1);
  assertLoginContext(t, await withSession(c, session));
  await expectRedirected(t, withSession(c, session, rememberRequest({ prompt: "none" })), "login_required", {
    to: rememberRequest().redirectUri!,
  });
});

test("a new sign-in in the session starts its absolute lifetime again, and the cookie's Max-Age with it", async (t) => {
  const c = await sessionCore(t, { sessionIdle: IDLE, sessionMax: MAX });
  const first = await passwordSignIn(c);
  c.clock.advance(MAX - 100);
  const again = await passwordSignIn(c, { authorize: { prompt: "login" }, previous: first.session });
  t.is(again.login.session!.maxAge, BigInt(MAX));
  c.clock.advance(200);
  t.true((await withSession(c, again.session)).signedIn);
});
