/**
 * Attacks on two-step sign-in, each as an attacker would try it: someone who
 * knows a user's password, holds another account, or replays what they saw.
 * Each test names the attack and asserts that it fails, with the exact
 * refusal, and that it changes nothing it should not.
 */
import { Code } from "@connectrpc/connect";
import test from "ava";
import { MFA_ACR } from "../../core/factors/levels.js";
import { totpCode } from "../../core/factors/totp.js";
import { BASE_URL, DEFAULT } from "../helpers.js";
import { ALICE, authorizeRequest, BOB, expectOAuthError, nowSeconds, pendingOf, setup } from "../core/flow.js";
import { SoftAuthenticator } from "./_authenticator.js";
import { enrolTotp, nextStep, passwordStep, setPolicy, signInOf } from "./_flow.js";

test("a sign-in begun with the password cannot read the authenticator-app secret another sign-in of the same user is enrolling", async (t) => {
  const c = await setup(t);
  await setPolicy(c, { required: "everyone" });
  // The attacker knows Alice's password and stops at the enrolment step.
  const attacker = await passwordStep(c);
  t.is(attacker.login.secondFactor?.stage, "enrol");
  // Alice, later, enrols her app: the page shows her a secret.
  c.clock.advance(5);
  const alice = await passwordStep(c);
  const hers = await c.authorization.startTotpEnrolment({ signIn: signInOf(alice.requestId) });
  // The attacker's own sign-in asks for an enrolment too: it must not be Alice's secret.
  const seen = await c.authorization.startTotpEnrolment({ signIn: signInOf(attacker.requestId) });
  t.not(seen.secret, hers.secret);
  t.not(seen.factorId, hers.factorId);
});

test("a sign-in cannot confirm the authenticator app another sign-in is enrolling", async (t) => {
  const c = await setup(t);
  await setPolicy(c, { required: "everyone" });
  const alice = await passwordStep(c);
  const hers = await c.authorization.startTotpEnrolment({ signIn: signInOf(alice.requestId) });
  const attacker = await passwordStep(c);
  await expectOAuthError(
    t,
    c.authorization.finishEnrolment({ signIn: signInOf(attacker.requestId), factorId: hers.factorId, totpCode: totpCode(hers.secret, c.clock.now()) }),
    { error: "invalid_request", code: Code.InvalidArgument, redirect: false },
  );
  t.deepEqual((await c.core.deps.store.listFactors(DEFAULT, ALICE.id)).map((f) => f.confirmed), [false]);
});

test("an enrolment step begun before the user enrolled a factor cannot add a second one: the attacker's passkey is refused", async (t) => {
  const c = await setup(t);
  await setPolicy(c, { required: "everyone" });
  // The attacker knows the password and waits at the enrolment step…
  const attacker = await passwordStep(c);
  const options = await c.authorization.startPasskey({ signIn: signInOf(attacker.requestId), purpose: "register" });
  // …while Alice enrols her authenticator app.
  await enrolTotp(c, (await passwordStep(c)).requestId);
  const key = new SoftAuthenticator(BASE_URL);
  await expectOAuthError(t, c.authorization.finishEnrolment({ signIn: signInOf(attacker.requestId), passkeyResponse: key.register(options.optionsJson) }), {
    error: "invalid_request",
    code: Code.InvalidArgument,
    redirect: false,
  });
  await expectOAuthError(t, c.authorization.startTotpEnrolment({ signIn: signInOf(attacker.requestId) }), { error: "invalid_request", redirect: false });
  t.deepEqual((await c.core.deps.store.listFactors(DEFAULT, ALICE.id)).map((f) => f.kind), ["totp"]);
});

test("TOTP guesses sent at once cannot outrun the lockout: each is counted before it is checked, and the right code past the allowance is refused", async (t) => {
  const c = await setup(t, { loginMaxFailuresPerUser: 3, loginMaxFailuresPerAddress: 1000, loginFailureDelayMs: 0, loginLockout: 600 });
  await setPolicy(c, { required: "everyone" });
  const { secret } = await enrolTotp(c, (await passwordStep(c)).requestId);
  nextStep(c);
  const requests = await Promise.all(Array.from({ length: 8 }, () => passwordStep(c)));
  // Thirty wrong guesses, then the right code, all at once, over eight requests of five attempts each.
  const right = totpCode(secret, c.clock.now());
  const guesses = Array.from({ length: 31 }, (_, i) => (i === 30 ? right : String((Number(right) + 1 + i) % 1_000_000).padStart(6, "0")));
  const answers = await Promise.allSettled(guesses.map((code, i) => c.authorization.verifyFactor({ signIn: signInOf(requests[i % 8]!.requestId), totpCode: code })));
  t.is(answers[30]!.status, "rejected", "the right code, past the lockout, is not accepted");
  // Three guesses checked (the username's allowance), the others refused unchecked.
  const checked = await c.core.deps.store.listAuditEvents(DEFAULT, { actions: ["FACTOR_VERIFIED"] }, { after: 0, limit: 100 });
  t.is(checked.filter((e) => /wrong code/.test(e.reason)).length, 3);
  t.is(checked.filter((e) => e.outcome === "success").length, 0);
  t.true(answers.every((a) => a.status === "rejected"));
  // The lockout holds for the right code afterwards too.
  await expectOAuthError(t, c.authorization.verifyFactor({ signIn: signInOf(requests[7]!.requestId), totpCode: right }), { error: "access_denied", status: "429", code: Code.ResourceExhausted });
});

test("refused passkeys alone count toward the address's lockout and are recorded, as wrong passwords are; a locked address cannot try more", async (t) => {
  const c = await setup(t, { loginMaxFailuresPerAddress: 2, loginLockout: 600 });
  await setPolicy(c, { required: "everyone", passwordless: true });
  const key = new SoftAuthenticator(BASE_URL);
  const { requestId } = await passwordStep(c);
  const options = await c.authorization.startPasskey({ signIn: signInOf(requestId), purpose: "register" });
  await c.authorization.finishEnrolment({ signIn: signInOf(requestId), passkeyResponse: key.register(options.optionsJson) });

  // From one address, answers signed for another origin (a phishing page's), each on a new request.
  const tryAlone = async () => {
    const started = await c.authorization.authorize(authorizeRequest({ scope: "" }));
    const { optionsJson } = await c.authorization.startPasskey({ signIn: signInOf(started.requestId), purpose: "authenticate" });
    return c.authorization.verifyFactor({ signIn: signInOf(started.requestId), passkeyResponse: key.assert(optionsJson, { origin: "https://evil.example" }) });
  };
  await expectOAuthError(t, tryAlone(), { error: "access_denied", status: "401", redirect: false });
  await expectOAuthError(t, tryAlone(), { error: "access_denied", status: "429", code: Code.ResourceExhausted });
  await expectOAuthError(t, tryAlone(), { error: "access_denied", status: "429", code: Code.ResourceExhausted });
  // The address is locked for passwords too.
  await expectOAuthError(t, passwordStep(c, { user: BOB }), { error: "access_denied", status: "429", code: Code.ResourceExhausted });
  const refused = await c.core.deps.store.listAuditEvents(DEFAULT, { actions: ["FACTOR_VERIFIED"] }, { after: 0, limit: 10 });
  t.deepEqual(
    refused.filter((e) => e.outcome === "failure").map((e) => e.reason.replace(/:.*?(;|$)/, "$1")),
    ["passkey assertion refused", "passkey assertion refused; sign-in now locked"],
  );
});

test("a step-up of a session that has since ended is refused: a second factor alone does not open a new session", async (t) => {
  const c = await setup(t);
  // Alice signs in with her password alone, then enrols an app in another sign-in: the first session stays one-factor.
  const first = await passwordStep(c);
  const session = first.login.session!.value;
  const { secret } = await enrolTotp(c, (await passwordStep(c, { authorize: { acrValues: MFA_ACR } })).requestId);
  nextStep(c);
  // Someone holding the one-factor session's cookie starts a step-up…
  const asked = await c.authorization.authorize({ ...authorizeRequest({ scope: "", acrValues: MFA_ACR }), session });
  t.is(asked.secondFactor?.stage, "verify");
  // …and Alice signs out of that session.
  const [ended] = (await c.core.deps.store.listUserSessions(DEFAULT, ALICE.id)).filter((s) => s.amr.length === 1);
  await c.core.deps.store.endSession(DEFAULT, ended!.id, nowSeconds(c));
  await expectOAuthError(t, c.authorization.verifyFactor({ signIn: signInOf(asked.requestId, session), totpCode: totpCode(secret, c.clock.now()) }), {
    error: "access_denied",
    redirect: false,
  });
  t.is(await pendingOf(c, asked.requestId), undefined, "the request is spent");
  t.is((await c.core.deps.store.listUserSessions(DEFAULT, ALICE.id)).filter((s) => s.endedAt === null).length, 1, "no new session");
});

test("held: one TOTP code sent on two sign-ins at once signs in once; the other is refused as used", async (t) => {
  const c = await setup(t);
  await setPolicy(c, { required: "everyone" });
  const { secret } = await enrolTotp(c, (await passwordStep(c)).requestId);
  nextStep(c);
  const [a, b] = await Promise.all([passwordStep(c), passwordStep(c)]);
  const code = totpCode(secret, c.clock.now());
  const answers = await Promise.allSettled([a, b].map((r) => c.authorization.verifyFactor({ signIn: signInOf(r!.requestId), totpCode: code })));
  t.is(answers.filter((x) => x.status === "fulfilled").length, 1);
  const refused = await c.core.deps.store.listAuditEvents(DEFAULT, { actions: ["FACTOR_VERIFIED"] }, { after: 0, limit: 10 });
  t.deepEqual(refused.filter((e) => e.outcome === "failure").map((e) => e.reason), ["code already used"]);
});

test("held: a passkey answer to another request's challenge, to a registration challenge, or to an expired one is refused", async (t) => {
  const c = await setup(t);
  await setPolicy(c, { required: "everyone" });
  const key = new SoftAuthenticator(BASE_URL);
  // A sign-in that began enrolling (a registration challenge), left waiting while Alice enrols her passkey elsewhere.
  const early = await passwordStep(c);
  const registration = JSON.parse((await c.authorization.startPasskey({ signIn: signInOf(early.requestId), purpose: "register" })).optionsJson);
  const enrolling = await passwordStep(c);
  const options = await c.authorization.startPasskey({ signIn: signInOf(enrolling.requestId), purpose: "register" });
  await c.authorization.finishEnrolment({ signIn: signInOf(enrolling.requestId), passkeyResponse: key.register(options.optionsJson) });
  const unauthorized = { error: "access_denied", status: "401", redirect: false } as const;
  const challenge = async () => {
    const { requestId } = await passwordStep(c);
    return { requestId, options: (await c.authorization.startPasskey({ signIn: signInOf(requestId), purpose: "authenticate" })).optionsJson };
  };

  // Another request's challenge (the victim's, say), answered on the attacker's request.
  const victim = await challenge();
  const attacker = await challenge();
  await expectOAuthError(t, c.authorization.verifyFactor({ signIn: signInOf(attacker.requestId), passkeyResponse: key.assert(victim.options) }), unauthorized);
  // The registration challenge, answered as a sign-in on its own request (now at its verify step).
  t.is((await c.authorization.login({ ...signInOf(early.requestId), username: ALICE.id, password: ALICE.password })).secondFactor?.stage, "verify");
  const asSignIn = key.assert(JSON.stringify({ challenge: registration.challenge, rpId: registration.rp.id }));
  await expectOAuthError(t, c.authorization.verifyFactor({ signIn: signInOf(early.requestId), passkeyResponse: asSignIn }), unauthorized);
  // An expired challenge: five minutes and more.
  const late = await challenge();
  c.clock.advance(301);
  await expectOAuthError(t, c.authorization.verifyFactor({ signIn: signInOf(late.requestId), passkeyResponse: key.assert(late.options) }), unauthorized);
  const reasons = (await c.core.deps.store.listAuditEvents(DEFAULT, { actions: ["FACTOR_VERIFIED"] }, { after: 0, limit: 20 })).filter((e) => e.outcome === "failure").map((e) => e.reason);
  t.deepEqual(reasons, Array(3).fill("unknown, used or expired passkey challenge"));
  t.is((await c.core.deps.store.listFactors(DEFAULT, ALICE.id))[0]!.counter, 0, "no answer was accepted");
});

test("held: Login again on a request waiting for its second factor does not pass it; another account's password only signs in that account", async (t) => {
  const c = await setup(t);
  await setPolicy(c, { required: "everyone" });
  await enrolTotp(c, (await passwordStep(c)).requestId);
  const { requestId } = await passwordStep(c);
  const again = await c.authorization.login({ ...signInOf(requestId), username: ALICE.id, password: ALICE.password });
  t.is(again.secondFactor?.stage, "verify");
  t.is(again.session, undefined);
  await expectOAuthError(t, c.authorization.consent({ ...DEFAULT, requestId, scopes: [] }), { error: "invalid_request", redirect: false });
  // Bob (no factor, optional policy) on Alice's waiting request: Bob's sign-in, and Alice's step is over.
  await setPolicy(c, { required: "optional" });
  const bob = await c.authorization.login({ ...signInOf(requestId), username: BOB.id, password: BOB.password });
  t.is(bob.secondFactor, undefined);
  t.is((await pendingOf(c, requestId))?.userId, BOB.id);
  await expectOAuthError(t, c.authorization.verifyFactor({ signIn: signInOf(requestId), totpCode: "123456" }), { error: "invalid_request", redirect: false });
});

test("held: a wrong password answers the same whether or not the user has a second factor", async (t) => {
  const c = await setup(t);
  await setPolicy(c, { required: "everyone" });
  await enrolTotp(c, (await passwordStep(c)).requestId);
  const refusal = async (username: string) => {
    const { requestId } = await c.authorization.authorize(authorizeRequest({ scope: "" }));
    const err = await expectOAuthError(t, c.authorization.login({ ...signInOf(requestId), username, password: "wrong" }), { error: "access_denied", status: "401", redirect: false });
    return { message: err.rawMessage, details: err.details.length };
  };
  t.deepEqual(await refusal(ALICE.id), await refusal(BOB.id));
  t.deepEqual(await refusal(ALICE.id), await refusal("nobody"));
});
