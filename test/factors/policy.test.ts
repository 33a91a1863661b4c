/**
 * Who is asked for a second factor: the project's policy (optional, everyone,
 * holders of given roles), the client's acr_values and essential acr claim,
 * and a session that already proved two factors.
 */
import { Code } from "@connectrpc/connect";
import test from "ava";
import { MFA_ACR, PASSWORD_ACR } from "../../core/factors/levels.js";
import { totpCode } from "../../core/factors/totp.js";
import { DEFAULT, seedClient } from "../helpers.js";
import { ALICE, authorizeRequest, BOB, expectOAuthError, setup } from "../core/flow.js";
import { enrolTotp, nextStep, passwordStep, setPolicy, signInOf } from "./_flow.js";

test("optional: a user without a factor signs in with the password alone; acr password", async (t) => {
  const c = await setup(t);
  const { login } = await passwordStep(c);
  t.is(login.secondFactor, undefined);
  t.truthy(login.session?.value);
  const [session] = await c.core.deps.store.listUserSessions({ organization: "iam-admins", project: "iam-admins" }, ALICE.id);
  t.deepEqual([session!.acr, session!.amr], [PASSWORD_ACR, ["pwd"]]);
});

test("roles: holders of a listed role enrol at sign-in, others do not", async (t) => {
  const c = await setup(t);
  // seedFixtures gives alice role-alice and bob role-bob.
  await setPolicy(c, { required: "roles", roles: ["role-alice"] });
  t.is((await passwordStep(c)).login.secondFactor?.stage, "enrol");
  t.is((await passwordStep(c, { user: BOB })).login.secondFactor, undefined);
});

test("acr_values naming the multi-factor level asks for it; naming both levels does not force it", async (t) => {
  const c = await setup(t);
  t.is((await passwordStep(c, { authorize: { acrValues: MFA_ACR } })).login.secondFactor?.stage, "enrol");
  t.is((await passwordStep(c, { authorize: { acrValues: `${PASSWORD_ACR} ${MFA_ACR}` } })).login.secondFactor, undefined);
  // An essential acr claim for the multi-factor level asks for it too.
  const claims = JSON.stringify({ id_token: { acr: { essential: true, values: [MFA_ACR] } } });
  t.is((await passwordStep(c, { authorize: { scope: "openid", nonce: "n", claims } })).login.secondFactor?.stage, "enrol");
  // An essential acr iam-core cannot satisfy fails the request at once.
  const unknown = JSON.stringify({ id_token: { acr: { essential: true, values: ["urn:example:loa:4"] } } });
  await expectOAuthError(t, c.authorization.authorize(authorizeRequest({ scope: "openid", nonce: "n", claims: unknown })), { error: "access_denied", code: Code.PermissionDenied });
});

test("a session that proved two factors serves a multi-factor request without asking again; max_age asks for both again", async (t) => {
  const c = await setup(t);
  await setPolicy(c, { required: "everyone" });
  const { secret, finished } = await enrolTotp(c, (await passwordStep(c)).requestId);
  const session = finished.login!.session!.value;
  const served = await c.authorization.authorize({ ...authorizeRequest({ scope: "", acrValues: MFA_ACR }), session });
  t.true(served.signedIn);
  t.is(served.secondFactor, undefined);

  c.clock.advance(120);
  const stale = await c.authorization.authorize({ ...authorizeRequest({ scope: "", maxAge: "60" }), session });
  t.false(stale.signedIn, "a new sign-in: the login page");
  const login = await c.authorization.login({ ...signInOf(stale.requestId, session), username: ALICE.id, password: ALICE.password });
  t.is(login.secondFactor?.stage, "verify", "and the second factor after the password");
  nextStep(c);
  const done = await c.authorization.verifyFactor({ signIn: signInOf(stale.requestId, session), totpCode: totpCode(secret, c.clock.now()) });
  t.truthy(done.login?.session?.value);
});

test("the password grant cannot carry a second factor: refused for a user who has one or must, as invalid_grant", async (t) => {
  const c = await setup(t);
  await seedClient(c.core, { id: "legacy", secret: "legacy-secret", redirectUris: ["https://legacy.example/cb"], grantTypes: ["password"] });
  const grant = (user: { id: string; password: string }) =>
    c.tokens.token({ ...DEFAULT, grantType: "password", username: user.id, password: user.password, basic: { clientId: "legacy", clientSecret: "legacy-secret" } });
  t.truthy((await grant(ALICE)).accessToken, "no factor, optional policy: as before");
  await setPolicy(c, { required: "roles", roles: ["role-alice"] });
  const required = await expectOAuthError(t, grant(ALICE), { error: "invalid_grant" });
  t.regex(required.rawMessage, /second factor: use the authorization code flow/);
  t.truthy((await grant(BOB)).accessToken, "bob holds no listed role");
  await setPolicy(c, { required: "optional" });
  await enrolTotp(c, (await passwordStep(c, { authorize: { acrValues: MFA_ACR } })).requestId);
  await expectOAuthError(t, grant(ALICE), { error: "invalid_grant" });
});
