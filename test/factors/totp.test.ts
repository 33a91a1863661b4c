/**
 * TOTP as a second factor through the core's RPCs: enrolment under a policy,
 * the window of steps, single use, lockout shared with passwords, recovery
 * codes, step-up of a one-factor session, and the amr/acr the tokens carry.
 */
import test from "ava";
import { decodeJwt } from "jose";
import { totpCode } from "../../core/factors/totp.js";
import { Code } from "@connectrpc/connect";
import { MFA_ACR } from "../../core/factors/levels.js";
import { DEFAULT } from "../helpers.js";
import { ALICE, authorizeRequest, exchangeRequest, expectOAuthError, pendingOf, setup } from "../core/flow.js";
import { enrolTotp, nextStep, passwordStep, setPolicy, signInOf } from "./_flow.js";

/** Consent to every scope the sign-in offered, then the code exchanged. */
const consentAndExchange = async (c: Awaited<ReturnType<typeof setup>>, requestId: string, offered: { name: string }[] = []) => {
  const consent = await c.authorization.consent({ ...DEFAULT, requestId, scopes: offered.map((s) => s.name) });
  const code = new URL(consent.redirectTo).searchParams.get("code")!;
  return c.tokens.token(exchangeRequest(code, {}));
};

test("under a required policy a user without a factor enrols at sign-in, gets ten recovery codes once, and is signed in with otp", async (t) => {
  const c = await setup(t);
  await setPolicy(c, { required: "everyone" });
  const { requestId, login } = await passwordStep(c, { authorize: { scope: "openid", nonce: "n" } });
  t.is(login.secondFactor?.stage, "enrol");
  t.deepEqual(login.secondFactor?.methods, ["totp", "passkey"]);
  t.is(login.session, undefined, "no session before the second factor");
  t.is(login.scopes.length, 0);
  // Consent is refused while the request waits for its second factor.
  await expectOAuthError(t, c.authorization.consent({ ...DEFAULT, requestId, scopes: [] }), { error: "invalid_request", redirect: false });

  const { uri, finished } = await enrolTotp(c, requestId);
  t.regex(uri, /^otpauth:\/\/totp\/.*secret=[A-Z2-7]+/);
  t.is(finished.recoveryCodes.length, 10);
  t.is(new Set(finished.recoveryCodes).size, 10);
  for (const code of finished.recoveryCodes) t.regex(code, /^[0-9a-z]{4}(-[0-9a-z]{4}){3}$/);
  t.truthy(finished.login?.session?.value);
  const tokens = await consentAndExchange(c, requestId, finished.login!.scopes);
  const id = decodeJwt(tokens.idToken);
  t.deepEqual(id.amr, ["pwd", "otp", "mfa"]);
  t.is(id.acr, MFA_ACR);
  const pending = await pendingOf(c, requestId);
  t.is(pending, undefined, "the request is complete");
});

test("a user with a factor is asked for a code after the password; codes of the step either side pass, further ones do not, each once", async (t) => {
  const c = await setup(t);
  await setPolicy(c, { required: "everyone" });
  const first = await passwordStep(c);
  const { secret } = await enrolTotp(c, first.requestId);
  await setPolicy(c, { required: "optional" });

  // Two steps on: the enrolment's step is outside the window.
  nextStep(c);
  nextStep(c);
  const { requestId, login } = await passwordStep(c);
  t.is(login.secondFactor?.stage, "verify");
  t.deepEqual(login.secondFactor?.methods, ["totp", "recovery_code"]);
  // Two steps away: refused, 401, and the request stays for another try.
  const wrong = await expectOAuthError(t, c.authorization.verifyFactor({ signIn: signInOf(requestId), totpCode: totpCode(secret, c.clock.now() - 60_000) }), {
    error: "access_denied",
    status: "401",
    redirect: false,
  });
  t.regex(wrong.rawMessage, /the code is not valid/);
  // The previous step's code passes (clock drift, typing time).
  const ok = await c.authorization.verifyFactor({ signIn: signInOf(requestId), totpCode: totpCode(secret, c.clock.now() - 30_000) });
  t.truthy(ok.login?.session?.value);
  t.is(ok.login?.secondFactor, undefined);

  // The same code again, on a new sign-in within its window: refused as used.
  const again = await passwordStep(c);
  await expectOAuthError(t, c.authorization.verifyFactor({ signIn: signInOf(again.requestId), totpCode: totpCode(secret, c.clock.now() - 30_000) }), {
    error: "access_denied",
    status: "401",
  });
  // An older step than the one used is refused too; the next step's code passes.
  await expectOAuthError(t, c.authorization.verifyFactor({ signIn: signInOf(again.requestId), totpCode: totpCode(secret, c.clock.now() - 60_000) }), { error: "access_denied", status: "401" });
  const next = await c.authorization.verifyFactor({ signIn: signInOf(again.requestId), totpCode: totpCode(secret, c.clock.now() + 30_000) });
  t.truthy(next.login?.session?.value);
});

test("failed codes count toward the user's lockout like failed passwords, and a locked user cannot try codes", async (t) => {
  const c = await setup(t, { loginMaxFailuresPerUser: 3, loginMaxFailuresPerAddress: 1000, loginFailureDelayMs: 0, loginLockout: 600 });
  await setPolicy(c, { required: "everyone" });
  const { secret } = await enrolTotp(c, (await passwordStep(c)).requestId);
  nextStep(c);
  const { requestId } = await passwordStep(c);
  for (let i = 0; i < 2; i++) await expectOAuthError(t, c.authorization.verifyFactor({ signIn: signInOf(requestId), totpCode: "000000" }), { error: "access_denied", status: "401" });
  const locked = await expectOAuthError(t, c.authorization.verifyFactor({ signIn: signInOf(requestId), totpCode: "000001" }), { error: "access_denied", status: "429", code: Code.ResourceExhausted });
  t.regex(locked.rawMessage, /too many failed sign-ins/);
  // Even the right code is refused while locked, and so is the password.
  await expectOAuthError(t, c.authorization.verifyFactor({ signIn: signInOf(requestId), totpCode: totpCode(secret, c.clock.now()) }), { error: "access_denied", status: "429", code: Code.ResourceExhausted });
  await expectOAuthError(t, passwordStep(c), { error: "access_denied", status: "429", code: Code.ResourceExhausted });
});

test("a pending request is spent after five wrong codes", async (t) => {
  const c = await setup(t, { loginMaxFailuresPerUser: 100, loginMaxFailuresPerAddress: 1000, loginFailureDelayMs: 0 });
  await setPolicy(c, { required: "everyone" });
  await enrolTotp(c, (await passwordStep(c)).requestId);
  nextStep(c);
  const { requestId } = await passwordStep(c);
  for (let i = 0; i < 5; i++) await expectOAuthError(t, c.authorization.verifyFactor({ signIn: signInOf(requestId), totpCode: "000000" }), { error: "access_denied", status: "401" });
  t.is(await pendingOf(c, requestId), undefined);
  await expectOAuthError(t, c.authorization.verifyFactor({ signIn: signInOf(requestId), totpCode: "000000" }), { error: "invalid_request", redirect: false });
});

test("a recovery code signs in once; a used or unknown one is refused; each use is recorded with the codes left", async (t) => {
  const c = await setup(t);
  await setPolicy(c, { required: "everyone" });
  const { finished } = await enrolTotp(c, (await passwordStep(c)).requestId);
  const [code] = finished.recoveryCodes;
  const { requestId, login } = await passwordStep(c);
  t.deepEqual(login.secondFactor?.methods, ["totp", "recovery_code"]);
  // Typed in capitals with spaces: the same code.
  const ok = await c.authorization.verifyFactor({ signIn: signInOf(requestId), recoveryCode: ` ${code!.toUpperCase().replace(/-/g, " ")} ` });
  t.truthy(ok.login?.session?.value);
  const tokens = await consentAndExchange(c, requestId, ok.login!.scopes);
  t.truthy(tokens.accessToken);

  const again = await passwordStep(c);
  await expectOAuthError(t, c.authorization.verifyFactor({ signIn: signInOf(again.requestId), recoveryCode: code! }), { error: "access_denied", status: "401" });
  await expectOAuthError(t, c.authorization.verifyFactor({ signIn: signInOf(again.requestId), recoveryCode: "0000-0000-0000-0000" }), { error: "access_denied", status: "401" });
  const used = await c.core.deps.store.listAuditEvents(DEFAULT, { actions: ["RECOVERY_CODE_USED"] }, { after: 0, limit: 10 });
  t.is(used.length, 1);
  t.deepEqual(used[0]!.changes, [{ field: "recovery_codes_left", before: "", after: "9" }]);
});

test("enrolment refuses a wrong first code (counted as a failure) and leaves no usable factor", async (t) => {
  const c = await setup(t);
  await setPolicy(c, { required: "everyone" });
  const { requestId } = await passwordStep(c);
  const started = await c.authorization.startTotpEnrolment({ signIn: signInOf(requestId) });
  await expectOAuthError(t, c.authorization.finishEnrolment({ signIn: signInOf(requestId), factorId: started.factorId, totpCode: "123456" }), { error: "access_denied", status: "401" });
  const factors = await c.core.deps.store.listFactors(DEFAULT, ALICE.id);
  t.deepEqual(factors.map((f) => f.confirmed), [false]);
  // The page shown again shows the same secret (the app has it already)…
  const again = await c.authorization.startTotpEnrolment({ signIn: signInOf(requestId) });
  t.is(again.secret, started.secret);
  t.is(again.factorId, started.factorId);
  // …and a later sign-in's enrolment replaces it with a new one.
  c.clock.advance(5);
  const later = await passwordStep(c);
  const restarted = await c.authorization.startTotpEnrolment({ signIn: signInOf(later.requestId) });
  t.not(restarted.secret, started.secret);
  t.deepEqual((await c.core.deps.store.listFactors(DEFAULT, ALICE.id)).map((f) => f.id), [restarted.factorId]);
});

test("a one-factor session steps up when the client asks acr_values for multi-factor; without it the session serves as before", async (t) => {
  const c = await setup(t);
  // Alice signs in with her password alone (no factor, optional policy).
  const first = await passwordStep(c);
  const session = first.login.session!.value;
  t.is(first.login.secondFactor, undefined);
  // Plain request: the session serves.
  const plain = await c.authorization.authorize({ ...authorizeRequest({ scope: "" }), session });
  t.true(plain.signedIn);
  // Multi-factor asked: she has no factor, so she enrols one, no password asked.
  const asked = await c.authorization.authorize({ ...authorizeRequest({ scope: "openid", acrValues: MFA_ACR, nonce: "n" }), session });
  t.is(asked.secondFactor?.stage, "enrol");
  t.false(asked.signedIn);
  const { finished } = await enrolTotp(c, asked.requestId);
  t.is(finished.login?.session?.value !== session, true, "a new secret for the session");
  const tokens = await consentAndExchange(c, asked.requestId, finished.login!.scopes);
  t.is(decodeJwt(tokens.idToken).acr, MFA_ACR);
  // prompt=none cannot step up: interaction_required.
  await expectOAuthError(t, c.authorization.authorize({ ...authorizeRequest({ scope: "openid", acrValues: MFA_ACR, prompt: "none" }), session: first.login.session!.value }), {
    error: "interaction_required",
    code: Code.FailedPrecondition,
  });
});
