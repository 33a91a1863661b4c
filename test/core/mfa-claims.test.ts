/**
 * How a user signed in, as the tokens tell it: `acr` and `amr` (RFC 8176)
 * in the access token (RFC 9068 §2.2.1), the ID token and introspection
 * (RFC 9470 §6.2), kept across refreshes, absent for a client acting for
 * itself; and VerifyToken's step-up requirements (RFC 9470 §3): acr_values
 * and max_auth_age, refused as INSUFFICIENT_USER_AUTHENTICATION.
 */
import test, { type ExecutionContext } from "ava";
import { Code } from "@connectrpc/connect";
import { decodeJwt } from "jose";
import * as oauth from "oauth4webapi";
import { TokenFailure } from "../../gen/iam/v1/token_pb.js";
import { MFA_ACR, PASSWORD_ACR } from "../../core/factors/levels.js";
import { DEFAULT, seedClient, type TestCore } from "../helpers.js";
import {
  ALICE,
  exchangeRequest,
  expectOAuthError,
  ISSUER,
  M2M,
  nowSeconds,
  obtainTokens,
  READ,
  refreshRequest,
  setup,
  WEB,
} from "./flow.js";
import { enrolTotp, passwordStep, setPolicy } from "../factors/_flow.js";

const SCOPE = `openid ${READ}`;
const webBasic = { basic: { clientId: WEB.id, clientSecret: WEB.secret } };

/** Alice signs in with her password alone (no factor, optional policy): WEB's tokens. */
const passwordTokens = (c: TestCore) => obtainTokens(c, { authorize: { scope: SCOPE, nonce: "n" } });

/** Alice signs in with her password and a TOTP code she enrols on the way (the project requires it): WEB's tokens. */
async function mfaTokens(c: TestCore) {
  await setPolicy(c, { required: "everyone" });
  const { requestId } = await passwordStep(c, { authorize: { scope: SCOPE, nonce: "n" } });
  const { finished } = await enrolTotp(c, requestId);
  const consent = await c.authorization.consent({ ...DEFAULT, requestId, scopes: finished.login!.scopes.map((s) => s.name) });
  const code = new URL(consent.redirectTo).searchParams.get("code")!;
  return c.tokens.token(exchangeRequest(code));
}

const m2mToken = (c: TestCore) => c.tokens.token({ ...DEFAULT, grantType: "client_credentials", basic: { clientId: M2M.id, clientSecret: M2M.secret } });

const introspect = (c: TestCore, token: string) => c.tokens.introspect({ ...DEFAULT, token, client: webBasic });

/** VerifyToken with a step-up requirement refuses the token, and tells nothing of it. */
async function expectStepUp(t: ExecutionContext, c: TestCore, token: string, requirement: { acrValues?: string[]; maxAuthAge?: bigint }) {
  const res = await c.tokens.verifyToken({ token, ...DEFAULT, ...requirement });
  t.false(res.active);
  t.is(res.failure, TokenFailure.INSUFFICIENT_USER_AUTHENTICATION, `got ${TokenFailure[res.failure]}`);
  t.is(res.subject, "");
  t.is(res.acr, "");
  t.deepEqual(res.amr, []);
  t.is(res.authTime, 0n);
}

test("a password sign-in: acr password and amr [pwd] in the access token, the ID token, introspection and VerifyToken", async (t) => {
  const c = await setup(t);
  const signedInAt = nowSeconds(c);
  const tokens = await passwordTokens(c);
  const access = decodeJwt(tokens.accessToken);
  const id = decodeJwt(tokens.idToken);
  for (const [name, claims] of [["access token", access], ["ID token", id]] as const) {
    t.is(claims.acr, PASSWORD_ACR, name);
    t.deepEqual(claims.amr, ["pwd"], name);
    t.is(claims.auth_time, signedInAt, name);
  }
  const a = await introspect(c, tokens.accessToken);
  t.true(a.active);
  t.is(a.acr, PASSWORD_ACR);
  t.deepEqual(a.amr, ["pwd"]);
  t.is(a.authTime, BigInt(signedInAt));
  const v = await c.tokens.verifyToken({ token: tokens.accessToken, ...DEFAULT });
  t.true(v.active);
  t.is(v.acr, PASSWORD_ACR);
  t.deepEqual(v.amr, ["pwd"]);
  t.is(v.authTime, BigInt(signedInAt));
});

test("a TOTP sign-in: acr mfa and amr [pwd, otp, mfa] in the access token, the ID token, introspection and VerifyToken", async (t) => {
  const c = await setup(t);
  const signedInAt = nowSeconds(c);
  const tokens = await mfaTokens(c);
  for (const [name, claims] of [["access token", decodeJwt(tokens.accessToken)], ["ID token", decodeJwt(tokens.idToken)]] as const) {
    t.is(claims.acr, MFA_ACR, name);
    t.deepEqual(claims.amr, ["pwd", "otp", "mfa"], name);
    t.is(claims.auth_time, signedInAt, name);
  }
  const a = await introspect(c, tokens.accessToken);
  t.is(a.acr, MFA_ACR);
  t.deepEqual(a.amr, ["pwd", "otp", "mfa"]);
  // The refresh token belongs to the same sign-in.
  const r = await c.tokens.introspect({ ...DEFAULT, token: tokens.refreshToken, tokenTypeHint: "refresh_token", client: webBasic });
  t.is(r.tokenType, "refresh_token");
  t.is(r.acr, MFA_ACR);
  t.deepEqual(r.amr, ["pwd", "otp", "mfa"]);
  t.is(r.authTime, BigInt(signedInAt));
});

test("VerifyToken with acr_values=[mfa] refuses the password token as INSUFFICIENT_USER_AUTHENTICATION and accepts the multi-factor one", async (t) => {
  const c = await setup(t);
  const weak = await passwordTokens(c);
  const strong = await mfaTokens(c);

  await expectStepUp(t, c, weak.accessToken, { acrValues: [MFA_ACR] });
  const ok = await c.tokens.verifyToken({ token: strong.accessToken, ...DEFAULT, acrValues: [MFA_ACR] });
  t.true(ok.active);
  t.is(ok.failure, TokenFailure.UNSPECIFIED);
  t.is(ok.subject, ALICE.id);
  t.is(ok.acr, MFA_ACR);
  t.deepEqual(ok.amr, ["pwd", "otp", "mfa"]);

  // The token's acr must be one of those named: both levels accept both tokens; the password level alone only its own.
  for (const token of [weak.accessToken, strong.accessToken]) {
    t.true((await c.tokens.verifyToken({ token, acrValues: [PASSWORD_ACR, MFA_ACR] })).active);
  }
  t.true((await c.tokens.verifyToken({ token: weak.accessToken, acrValues: [PASSWORD_ACR] })).active);
  await expectStepUp(t, c, strong.accessToken, { acrValues: [PASSWORD_ACR] });

  // A missing scope is told first: a stronger sign-in would not bring it.
  const lacking = await c.tokens.verifyToken({ token: weak.accessToken, requiredScopes: ["docs.files.delete"], acrValues: [MFA_ACR] });
  t.is(lacking.failure, TokenFailure.INSUFFICIENT_SCOPE);
  // A revoked token is REVOKED, whatever its sign-in.
  await c.tokens.revoke({ ...DEFAULT, token: strong.refreshToken, client: webBasic });
  t.is((await c.tokens.verifyToken({ token: strong.accessToken, acrValues: [MFA_ACR] })).failure, TokenFailure.REVOKED);
});

test("VerifyToken with max_auth_age accepts a sign-in up to that many seconds old and refuses an older one, though the token is unexpired", async (t) => {
  const c = await setup(t);
  const tokens = await passwordTokens(c);
  const signedInAt = nowSeconds(c);
  t.true((await c.tokens.verifyToken({ token: tokens.accessToken, maxAuthAge: 0n })).active, "0: a sign-in of this very second");
  c.clock.advance(300);
  const fresh = await c.tokens.verifyToken({ token: tokens.accessToken, maxAuthAge: 300n });
  t.true(fresh.active);
  t.is(fresh.authTime, BigInt(signedInAt));
  await expectStepUp(t, c, tokens.accessToken, { maxAuthAge: 299n });
  c.clock.advance(1);
  await expectStepUp(t, c, tokens.accessToken, { maxAuthAge: 300n });
  // Both requirements together: each must hold.
  await expectStepUp(t, c, tokens.accessToken, { acrValues: [PASSWORD_ACR], maxAuthAge: 300n });
  t.true((await c.tokens.verifyToken({ token: tokens.accessToken, acrValues: [PASSWORD_ACR], maxAuthAge: 301n })).active);
  t.true((await c.tokens.verifyToken({ token: tokens.accessToken })).active, "no requirement: still active until its expiry");
});

test("a refreshed token keeps the grant's acr, amr and auth_time: refreshing is not signing in again", async (t) => {
  const c = await setup(t);
  const first = await mfaTokens(c);
  const signedInAt = nowSeconds(c);
  c.clock.advance(600);
  const refreshed = await c.tokens.token(refreshRequest(first.refreshToken));
  const claims = decodeJwt(refreshed.accessToken);
  t.is(claims.iat, signedInAt + 600);
  t.is(claims.acr, MFA_ACR);
  t.deepEqual(claims.amr, ["pwd", "otp", "mfa"]);
  t.is(claims.auth_time, signedInAt);
  t.true((await c.tokens.verifyToken({ token: refreshed.accessToken, acrValues: [MFA_ACR], maxAuthAge: 600n })).active);
  await expectStepUp(t, c, refreshed.accessToken, { acrValues: [MFA_ACR], maxAuthAge: 599n });
  const a = await introspect(c, refreshed.accessToken);
  t.is(a.acr, MFA_ACR);
  t.is(a.authTime, BigInt(signedInAt));
});

test("a client_credentials token carries no acr, amr or auth_time, and meets no sign-in requirement", async (t) => {
  const c = await setup(t);
  const { accessToken } = await m2mToken(c);
  const claims = decodeJwt(accessToken);
  for (const claim of ["acr", "amr", "auth_time"]) t.false(claim in claims, claim);
  const v = await c.tokens.verifyToken({ token: accessToken, ...DEFAULT });
  t.true(v.active);
  t.is(v.acr, "");
  t.deepEqual(v.amr, []);
  t.is(v.authTime, 0n);
  const a = await c.tokens.introspect({ ...DEFAULT, token: accessToken, client: { basic: { clientId: M2M.id, clientSecret: M2M.secret } } });
  t.true(a.active);
  t.is(a.acr, "");
  t.deepEqual(a.amr, []);
  t.is(a.authTime, 0n);
  await expectStepUp(t, c, accessToken, { acrValues: [PASSWORD_ACR, MFA_ACR] });
  await expectStepUp(t, c, accessToken, { maxAuthAge: 3600n });
});

test("a password-grant token has an auth_time but no acr: max_auth_age may pass, acr_values never does", async (t) => {
  const c = await setup(t);
  await seedClient(c.core, { id: "legacy", secret: "legacy-secret", redirectUris: [], grantTypes: ["password"] });
  const { accessToken } = await c.tokens.token({
    ...DEFAULT,
    grantType: "password",
    username: ALICE.id,
    password: ALICE.password,
    scope: READ,
    basic: { clientId: "legacy", clientSecret: "legacy-secret" },
  });
  const claims = decodeJwt(accessToken);
  t.is(claims.auth_time, nowSeconds(c));
  t.false("acr" in claims);
  t.false("amr" in claims);
  t.true((await c.tokens.verifyToken({ token: accessToken, maxAuthAge: 60n })).active);
  await expectStepUp(t, c, accessToken, { acrValues: [PASSWORD_ACR, MFA_ACR] });
});

test("a requirement that no token could meet is the caller's error: an acr iam-core does not issue, a negative age", async (t) => {
  const c = await setup(t);
  const { accessToken } = await passwordTokens(c);
  const before = await c.core.deps.metrics.registry.getSingleMetricAsString("iam_token_verifications_total");
  const unknown = await expectOAuthError(t, c.tokens.verifyToken({ token: accessToken, acrValues: [MFA_ACR, "urn:example:gold"] }), { error: "invalid_request", code: Code.InvalidArgument });
  t.regex(unknown.rawMessage, /acr_values may name only urn:iam-core:acr:password, urn:iam-core:acr:mfa/);
  t.notRegex(unknown.rawMessage, /gold/, "the value is not echoed");
  const negative = await expectOAuthError(t, c.tokens.verifyToken({ token: accessToken, maxAuthAge: -1n }), { error: "invalid_request", code: Code.InvalidArgument });
  t.regex(negative.rawMessage, /max_auth_age must not be negative/);
  // Checked before the token: garbage gets the same answer.
  await expectOAuthError(t, c.tokens.verifyToken({ token: "garbage", acrValues: [""] }), { error: "invalid_request", code: Code.InvalidArgument });
  t.is(await c.core.deps.metrics.registry.getSingleMetricAsString("iam_token_verifications_total"), before, "no verification counted");
});

test("a refusal is counted as insufficient_user_authentication in iam_token_verifications_total", async (t) => {
  const c = await setup(t);
  const { accessToken } = await passwordTokens(c);
  await c.tokens.verifyToken({ token: accessToken, acrValues: [MFA_ACR] });
  const metric = await c.core.deps.metrics.registry.getSingleMetricAsString("iam_token_verifications_total");
  t.regex(metric, /iam_token_verifications_total\{result="insufficient_user_authentication"\} 1/);
});

test("oauth4webapi's validateJwtAccessToken (RFC 9068) accepts an access token with acr and amr, and exposes them", async (t) => {
  const c = await setup(t);
  const tokens = await mfaTokens(c);
  const { keys } = await c.tokens.getJwks(DEFAULT);
  // The JWK Set as the gateway serves it: the members of each key's type only.
  const jwks = { keys: keys.map((k) => Object.fromEntries(Object.entries(k).filter(([name, value]) => !name.startsWith("$") && value !== ""))) };
  const jwksUri = `${ISSUER}/.well-known/jwks.json`;
  const as: oauth.AuthorizationServer = { issuer: ISSUER, jwks_uri: jwksUri };
  const request = new Request("https://notes.example/notes", { headers: { authorization: `Bearer ${tokens.accessToken}` } });
  const claims = await oauth.validateJwtAccessToken(as, request, ISSUER, {
    [oauth.allowInsecureRequests]: true,
    // The core's clock is the test's; the library reads the wall clock.
    [oauth.clockSkew]: nowSeconds(c) - Math.floor(Date.now() / 1000),
    [oauth.customFetch]: async (url) => {
      t.is(String(url), jwksUri);
      return Response.json(jwks, { headers: { "content-type": "application/json" } });
    },
  });
  t.is(claims.sub, ALICE.id);
  t.is(claims.acr, MFA_ACR);
  t.deepEqual(claims.amr, ["pwd", "otp", "mfa"]);
  t.is(claims.auth_time, nowSeconds(c));
});
