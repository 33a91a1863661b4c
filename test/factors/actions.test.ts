/**
 * Application-initiated actions on a user's sign-in methods (`iam_action`):
 * one more factor (`add_factor`), or new recovery codes
 * (`new_recovery_codes`). Each follows a new sign-in with every factor the
 * user has; the browser's session never serves it.
 */
import { Code } from "@connectrpc/connect";
import test from "ava";
import { decodeJwt } from "jose";
import { totpCode } from "../../core/factors/totp.js";
import { BASE_URL, DEFAULT } from "../helpers.js";
import { ALICE, authorizeRequest, exchangeRequest, expectOAuthError, setup } from "../core/flow.js";
import { SoftAuthenticator } from "./_authenticator.js";
import { enrolTotp, nextStep, passwordStep, setPolicy, signInOf } from "./_flow.js";

/** Alice with an authenticator app (enrolled under an "everyone" policy, then back to optional); her secret, codes and session. */
async function aliceWithApp(c: Awaited<ReturnType<typeof setup>>) {
  await setPolicy(c, { required: "everyone" });
  const { secret, finished } = await enrolTotp(c, (await passwordStep(c)).requestId);
  await setPolicy(c, { required: "optional" });
  nextStep(c);
  return { secret, codes: finished.recoveryCodes, session: finished.login!.session!.value };
}

test("add_factor: a new sign-in with the factor she has, then a passkey added beside it; the session does not serve it", async (t) => {
  const c = await setup(t);
  const { secret, session } = await aliceWithApp(c);
  const auth = await c.authorization.authorize({ ...authorizeRequest({ scope: "openid", nonce: "n", iamAction: "add_factor" }), session });
  t.false(auth.signedIn, "the login page, though her session is live and two-factor");
  const login = await c.authorization.login({ ...signInOf(auth.requestId, session), username: ALICE.id, password: ALICE.password });
  t.is(login.secondFactor?.stage, "verify");
  const verified = await c.authorization.verifyFactor({ signIn: signInOf(auth.requestId, session), totpCode: totpCode(secret, c.clock.now()) });
  t.like(verified.login?.secondFactor, { stage: "enrol", adding: true });
  t.is(verified.login?.session, undefined, "nothing signed in until the action is done");

  const key = new SoftAuthenticator(BASE_URL);
  const { optionsJson } = await c.authorization.startPasskey({ signIn: signInOf(auth.requestId, session), purpose: "register" });
  t.is(JSON.parse(optionsJson).excludeCredentials.length, 0, "no passkey yet to exclude");
  const done = await c.authorization.finishEnrolment({ signIn: signInOf(auth.requestId, session), passkeyResponse: key.register(optionsJson) });
  t.deepEqual(done.recoveryCodes, [], "she has codes: none issued");
  t.deepEqual((await c.core.deps.store.listFactors(DEFAULT, ALICE.id)).map((f) => f.kind).sort(), ["passkey", "totp"]);
  const consent = await c.authorization.consent({ ...DEFAULT, requestId: auth.requestId, scopes: done.login!.scopes.map((s) => s.name) });
  const tokens = await c.tokens.token(exchangeRequest(new URL(consent.redirectTo).searchParams.get("code")!));
  t.deepEqual(decodeJwt(tokens.idToken).amr, ["pwd", "otp", "hwk", "mfa"]);

  // The next sign-in offers both.
  nextStep(c);
  t.deepEqual((await passwordStep(c)).login.secondFactor?.methods, ["totp", "passkey", "recovery_code"]);
});

test("add_factor for a user without one is her first enrolment, with recovery codes; prompt=none cannot run an action (a session never serves one)", async (t) => {
  const c = await setup(t);
  const { requestId, login } = await passwordStep(c, { authorize: { iamAction: "add_factor" } });
  t.like(login.secondFactor, { stage: "enrol", adding: false });
  const { finished } = await enrolTotp(c, requestId);
  t.is(finished.recoveryCodes.length, 10);
  await expectOAuthError(t, c.authorization.authorize({ ...authorizeRequest({ iamAction: "add_factor", prompt: "none" }), session: finished.login!.session!.value }), {
    // As for any session that may not serve: a client she never approved learns nothing of it.
    error: "consent_required",
    code: Code.FailedPrecondition,
  });
});

test("new_recovery_codes: after every factor, ten new codes; the old ones stop working, the new ones work", async (t) => {
  const c = await setup(t);
  const { secret, codes } = await aliceWithApp(c);
  const { requestId, login } = await passwordStep(c, { authorize: { iamAction: "new_recovery_codes" } });
  t.is(login.secondFactor?.stage, "verify");
  const verified = await c.authorization.verifyFactor({ signIn: signInOf(requestId), totpCode: totpCode(secret, c.clock.now()) });
  t.is(verified.recoveryCodes.length, 10);
  t.truthy(verified.login?.session?.value);
  t.is(verified.recoveryCodes.filter((code) => codes.includes(code)).length, 0);
  const issued = await c.core.deps.store.listAuditEvents(DEFAULT, { actions: ["RECOVERY_CODES_ISSUED"] }, { after: 0, limit: 10 });
  t.is(issued.length, 2);

  const old = await passwordStep(c);
  await expectOAuthError(t, c.authorization.verifyFactor({ signIn: signInOf(old.requestId), recoveryCode: codes[0]! }), { error: "access_denied", status: "401" });
  const fresh = await c.authorization.verifyFactor({ signIn: signInOf(old.requestId), recoveryCode: verified.recoveryCodes[0]! });
  t.truthy(fresh.login?.session?.value);
});

test("an unknown iam_action is invalid_request, sent back to the client", async (t) => {
  const c = await setup(t);
  await expectOAuthError(t, c.authorization.authorize(authorizeRequest({ iamAction: "delete_account" })), { error: "invalid_request", redirect: { to: "https://web.example/callback", state: "xyz" } });
});
