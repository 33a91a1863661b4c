/**
 * Passkeys through the core's RPCs, answered by a software authenticator
 * (_authenticator.ts): enrolment, a second factor, a passkey alone where the
 * project allows it, and every refusal: a counter going backwards (a cloned
 * authenticator), a replayed answer, another origin, another user's passkey,
 * a malformed attestation. Each refusal changes nothing but its counts.
 */
import { Code } from "@connectrpc/connect";
import test from "ava";
import { decodeJwt } from "jose";
import { MFA_ACR } from "../../core/factors/levels.js";
import { sha256 } from "../../core/lib/crypto.js";
import { BASE_URL, DEFAULT, type TestCore } from "../helpers.js";
import { ALICE, authorizeRequest, BOB, exchangeRequest, expectOAuthError, setup } from "../core/flow.js";
import { SoftAuthenticator } from "./_authenticator.js";
import { passwordStep, setPolicy, signInOf } from "./_flow.js";

const OPENID = { scope: "openid", nonce: "n" };
const unauthorized = { error: "access_denied", status: "401", redirect: false } as const;

/** Enrols a passkey for the user of a new password sign-in (policy: everyone); answers the FinishEnrolment answer. */
async function enrolPasskey(c: TestCore, authenticator: SoftAuthenticator, user: { id: string; password: string } = ALICE) {
  const { requestId } = await passwordStep(c, { user, authorize: OPENID });
  const { optionsJson } = await c.authorization.startPasskey({ signIn: signInOf(requestId), purpose: "register" });
  return c.authorization.finishEnrolment({ signIn: signInOf(requestId), passkeyResponse: authenticator.register(optionsJson), name: "Test key" });
}

/** A password sign-in of `user` at its passkey step: the request and the challenge's options. */
async function passkeyStep(c: TestCore, user: { id: string; password: string } = ALICE) {
  const { requestId, login } = await passwordStep(c, { user, authorize: OPENID });
  const { optionsJson } = await c.authorization.startPasskey({ signIn: signInOf(requestId), purpose: "authenticate" });
  return { requestId, login, optionsJson };
}

const idTokenOf = async (c: TestCore, requestId: string, scopes: { name: string }[]) => {
  const consent = await c.authorization.consent({ ...DEFAULT, requestId, scopes: scopes.map((s) => s.name) });
  const tokens = await c.tokens.token(exchangeRequest(new URL(consent.redirectTo).searchParams.get("code")!));
  return decodeJwt(tokens.idToken);
};

const passkeyOf = async (c: TestCore, user: string = ALICE.id) => (await c.core.deps.store.listFactors(DEFAULT, user)).find((f) => f.kind === "passkey")!;

test("a passkey enrolled at sign-in signs in as a second factor; its counter and device type are stored; amr hwk", async (t) => {
  const c = await setup(t);
  await setPolicy(c, { required: "everyone" });
  const key = new SoftAuthenticator(BASE_URL);
  const enrolled = await enrolPasskey(c, key);
  t.is(enrolled.recoveryCodes.length, 10);
  const stored = await passkeyOf(c);
  t.like(stored, { name: "Test key", deviceType: "singleDevice", backedUp: false, counter: 0, confirmed: true, transports: ["internal"] });
  t.is(stored.credentialId, key.credentials[0]!.id.toString("base64url"));

  const { requestId, login, optionsJson } = await passkeyStep(c);
  t.deepEqual(login.secondFactor?.methods, ["passkey", "recovery_code"]);
  const options = JSON.parse(optionsJson);
  t.is(options.rpId, "iam.test");
  t.deepEqual(options.allowCredentials.map((d: { id: string }) => d.id), [stored.credentialId]);
  const ok = await c.authorization.verifyFactor({ signIn: signInOf(requestId), passkeyResponse: key.assert(optionsJson) });
  t.truthy(ok.login?.session?.value);
  t.is((await passkeyOf(c)).counter, 1);
  const id = await idTokenOf(c, requestId, ok.login!.scopes);
  t.deepEqual(id.amr, ["pwd", "hwk", "mfa"]);
  t.is(id.acr, MFA_ACR);
});

test("a synced passkey (backed up) is swk", async (t) => {
  const c = await setup(t);
  await setPolicy(c, { required: "everyone" });
  const key = new SoftAuthenticator(BASE_URL, { uv: true, backedUp: true });
  const enrolled = await enrolPasskey(c, key);
  t.like(await passkeyOf(c), { deviceType: "multiDevice", backedUp: true });
  t.is(enrolled.login?.session !== undefined, true);
  const id = await idTokenOf(c, enrolled.login!.requestId, enrolled.login!.scopes);
  t.deepEqual(id.amr, ["pwd", "swk", "mfa"]);
});

test("a counter that goes backwards or stands still (a cloned authenticator) is refused, recorded, and changes nothing", async (t) => {
  const c = await setup(t);
  await setPolicy(c, { required: "everyone" });
  const key = new SoftAuthenticator(BASE_URL);
  await enrolPasskey(c, key);
  const first = await passkeyStep(c);
  await c.authorization.verifyFactor({ signIn: signInOf(first.requestId), passkeyResponse: key.assert(first.optionsJson, { counter: 5 }) });
  t.is((await passkeyOf(c)).counter, 5);

  for (const counter of [3, 5]) {
    const clone = await passkeyStep(c);
    const err = await expectOAuthError(t, c.authorization.verifyFactor({ signIn: signInOf(clone.requestId), passkeyResponse: key.assert(clone.optionsJson, { counter }) }), unauthorized);
    t.regex(err.rawMessage, /the passkey could not be verified/);
    t.is((await passkeyOf(c)).counter, 5, `counter ${counter}: unchanged`);
  }
  const refused = await c.core.deps.store.listAuditEvents(DEFAULT, { actions: ["FACTOR_VERIFIED"] }, { after: 0, limit: 10 });
  t.is(refused.filter((e) => e.outcome === "failure").length, 2);
  t.true(refused.filter((e) => e.outcome === "failure").every((e) => /counter/.test(e.reason)));
});

test("an answer is accepted once: the same assertion again is refused (its challenge is spent)", async (t) => {
  const c = await setup(t);
  await setPolicy(c, { required: "everyone" });
  const key = new SoftAuthenticator(BASE_URL);
  await enrolPasskey(c, key);
  const { requestId, optionsJson } = await passkeyStep(c);
  const answer = key.assert(optionsJson);
  await c.authorization.verifyFactor({ signIn: signInOf(requestId), passkeyResponse: answer });
  const again = await passkeyStep(c);
  await expectOAuthError(t, c.authorization.verifyFactor({ signIn: signInOf(again.requestId), passkeyResponse: answer }), unauthorized);
  t.is((await passkeyOf(c)).counter, 1);
});

test("an assertion for another origin or relying party, or by another user's passkey, is refused", async (t) => {
  const c = await setup(t);
  await setPolicy(c, { required: "everyone" });
  const alices = new SoftAuthenticator(BASE_URL);
  const bobs = new SoftAuthenticator(BASE_URL);
  await enrolPasskey(c, alices);
  await enrolPasskey(c, bobs, BOB);

  const phished = await passkeyStep(c);
  await expectOAuthError(t, c.authorization.verifyFactor({ signIn: signInOf(phished.requestId), passkeyResponse: alices.assert(phished.optionsJson, { origin: "http://iam.test.evil.example" }) }), unauthorized);
  const otherRp = await passkeyStep(c);
  await expectOAuthError(t, c.authorization.verifyFactor({ signIn: signInOf(otherRp.requestId), passkeyResponse: alices.assert(otherRp.optionsJson, { rpId: "evil.example" }) }), unauthorized);
  const bobsKey = await passkeyStep(c);
  await expectOAuthError(t, c.authorization.verifyFactor({ signIn: signInOf(bobsKey.requestId), passkeyResponse: bobs.assert(bobsKey.optionsJson) }), unauthorized);
  t.is((await passkeyOf(c, BOB.id)).counter, 0, "Bob's passkey was not used");
  const reasons = (await c.core.deps.store.listAuditEvents(DEFAULT, { actions: ["FACTOR_VERIFIED"] }, { after: 0, limit: 20 })).filter((e) => e.outcome === "failure").map((e) => e.reason);
  t.is(reasons.length, 3);
  t.regex(reasons[2]!, /passkey of another user/);
});

test("a malformed or foreign attestation is refused, counted, and stores no factor", async (t) => {
  const c = await setup(t);
  await setPolicy(c, { required: "everyone" });
  const { requestId } = await passwordStep(c);
  const { optionsJson } = await c.authorization.startPasskey({ signIn: signInOf(requestId), purpose: "register" });
  const key = new SoftAuthenticator(BASE_URL);
  const good = JSON.parse(key.register(optionsJson));
  for (const bad of ["{", JSON.stringify({ ...good, response: { ...good.response, attestationObject: "AAAA" } })]) {
    const err = await expectOAuthError(t, c.authorization.finishEnrolment({ signIn: signInOf(requestId), passkeyResponse: bad }), unauthorized);
    t.regex(err.rawMessage, /the passkey could not be registered/);
  }
  // From another origin, with a fresh challenge.
  const fresh = await c.authorization.startPasskey({ signIn: signInOf(requestId), purpose: "register" });
  await expectOAuthError(t, c.authorization.finishEnrolment({ signIn: signInOf(requestId), passkeyResponse: key.register(fresh.optionsJson, { origin: "https://evil.example" }) }), unauthorized);
  t.deepEqual(await c.core.deps.store.listFactors(DEFAULT, ALICE.id), []);
  // Three failures of the five a request allows: it stands.
  t.truthy(await c.core.deps.store.getAuthorizationRequest(sha256(requestId)));
});

test("a passkey alone signs in where the project allows it, the user verified; not otherwise", async (t) => {
  const c = await setup(t);
  await setPolicy(c, { required: "everyone" });
  const key = new SoftAuthenticator(BASE_URL);
  await enrolPasskey(c, key);

  const closed = await c.authorization.authorize(authorizeRequest({ scope: "" }));
  t.false(closed.passwordless);
  await expectOAuthError(t, c.authorization.startPasskey({ signIn: signInOf(closed.requestId), purpose: "authenticate" }), { error: "invalid_request", code: Code.InvalidArgument, redirect: false });

  await setPolicy(c, { required: "everyone", passwordless: true });
  const open = await c.authorization.authorize(authorizeRequest({ scope: "openid", nonce: "n" }));
  t.true(open.passwordless);
  const { optionsJson } = await c.authorization.startPasskey({ signIn: signInOf(open.requestId), purpose: "authenticate" });
  const options = JSON.parse(optionsJson);
  t.deepEqual(options.allowCredentials ?? [], [], "any discoverable passkey");
  t.is(options.userVerification, "required");
  const ok = await c.authorization.verifyFactor({ signIn: signInOf(open.requestId), passkeyResponse: key.assert(optionsJson) });
  const id = await idTokenOf(c, open.requestId, ok.login!.scopes);
  t.is(id.sub, ALICE.id);
  t.deepEqual(id.amr, ["hwk", "mfa"]);

  // An authenticator that did not verify the user (presence only) is not enough alone.
  const presenceOnly = new SoftAuthenticator(BASE_URL, { uv: false });
  presenceOnly.credentials.push(key.credentials[0]!);
  const again = await c.authorization.authorize(authorizeRequest({ scope: "" }));
  const opts = await c.authorization.startPasskey({ signIn: signInOf(again.requestId), purpose: "authenticate" });
  await expectOAuthError(t, c.authorization.verifyFactor({ signIn: signInOf(again.requestId), passkeyResponse: presenceOnly.assert(opts.optionsJson) }), unauthorized);
});

test("a passkey's name is kept without control or format characters, at most 64 characters", async (t) => {
  const c = await setup(t);
  await setPolicy(c, { required: "everyone" });
  const { requestId } = await passwordStep(c);
  const { optionsJson } = await c.authorization.startPasskey({ signIn: signInOf(requestId), purpose: "register" });
  const name = `\u001b[31mRed\u202e key\u0000 ${"x".repeat(100)}`;
  await c.authorization.finishEnrolment({ signIn: signInOf(requestId), passkeyResponse: new SoftAuthenticator(BASE_URL).register(optionsJson), name });
  const stored = await passkeyOf(c);
  t.is(stored.name, `[31mRed key ${"x".repeat(100)}`.slice(0, 64));
});
