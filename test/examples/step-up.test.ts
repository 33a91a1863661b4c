/**
 * Step-up at a resource server (RFC 9470): the example notes API's
 * `GET /notes/export` needs a multi-factor sign-in of the last 15 minutes,
 * verified through `iam-core/client` (VerifyToken's acr_values and
 * max_auth_age) or locally from the token's own acr and auth_time; a token
 * that falls short gets 401 with the `insufficient_user_authentication`
 * challenge, which a standards client (oauth4webapi) reads.
 */
import test, { type ExecutionContext } from "ava";
import * as oauth from "oauth4webapi";
import {
  bearerChallenge,
  createAccessTokenVerifier,
  MFA_ACR,
  PASSWORD_ACR,
  TokenFailure,
  type VerifyTokenResponse,
} from "../../client/index.js";
import * as levels from "../../core/factors/levels.js";
import { EXPORT_SIGN_IN, REQUIRED_SCOPE, startResourceServer, type ResourceServerOptions } from "../../examples/resource-server/server.js";
import { DEFAULT, seedUser, startTestServer, TestClock, type TestServer } from "../helpers.js";
import { exchangeRequest, obtainTokens, refreshRequest, seedFixtures } from "../core/flow.js";
import { enrolTotp, passwordStep, setPolicy } from "../factors/_flow.js";

const DANA = { id: "dana", password: "dana-password-1" };
/** The exact challenge of /notes/export to a token whose sign-in falls short. */
const STEP_UP =
  'Bearer realm="notes", error="insufficient_user_authentication", error_description="a stronger or more recent sign-in is required", ' +
  'acr_values="urn:iam-core:acr:mfa", max_age="900"';

/** A core and gateway on the wall clock (local verification checks expiry against it), WEB and Dana, who may read notes. */
async function setup(t: ExecutionContext): Promise<TestServer> {
  const clock = new TestClock();
  clock.ms = Date.now();
  const s = await startTestServer({ clock });
  t.teardown(() => s.close());
  await seedFixtures(s);
  await seedUser(s.core, { ...DANA, permissions: [REQUIRED_SCOPE] });
  return s;
}

/** Dana signs in with her password alone. */
const passwordTokens = (s: TestServer) => obtainTokens(s, { user: DANA, authorize: { scope: REQUIRED_SCOPE } });

/** Dana signs in with her password and a TOTP code, enrolled on the way (the project requires a second factor). */
async function mfaTokens(s: TestServer) {
  await setPolicy(s, { required: "everyone" });
  const { requestId } = await passwordStep(s, { user: DANA, authorize: { scope: REQUIRED_SCOPE } });
  const { finished } = await enrolTotp(s, requestId);
  const consent = await s.authorization.consent({ ...DEFAULT, requestId, scopes: finished.login!.scopes.map((x) => x.name) });
  return s.tokens.token(exchangeRequest(new URL(consent.redirectTo).searchParams.get("code")!));
}

async function notesApi(t: ExecutionContext, s: TestServer, overrides: Partial<ResourceServerOptions> = {}) {
  const api = await startResourceServer({
    coreUrl: s.grpcUrl,
    issuer: "http://iam.test/services/oauth2/iam-admins/iam-admins",
    organization: "iam-admins",
    project: "iam-admins",
    ...overrides,
  });
  t.teardown(() => api.close());
  return api;
}

const get = (url: string, token: string) => fetch(url, { headers: { authorization: `Bearer ${token}` } });

async function assertStepUp(t: ExecutionContext, res: Response, header = STEP_UP) {
  t.is(res.status, 401);
  // Every 401 of the API names its protected resource metadata (RFC 9728 §5.1).
  const metadata = `, resource_metadata="${new URL(res.url).origin}/.well-known/oauth-protected-resource/notes"`;
  t.is(res.headers.get("www-authenticate"), header + metadata);
  t.deepEqual(await res.json(), { error: "insufficient_user_authentication", error_description: /error_description="([^"]*)"/.exec(header)![1] });
}

test("a password sign-in reads notes but gets the step-up challenge at the export; a multi-factor one exports; once its sign-in is 15 minutes old, a refreshed token is challenged again", async (t) => {
  const s = await setup(t);
  const api = await notesApi(t, s);

  const weak = await passwordTokens(s);
  t.is((await get(`${api.url}/notes`, weak.accessToken)).status, 200);
  await assertStepUp(t, await get(`${api.url}/notes/export`, weak.accessToken));

  const strong = await mfaTokens(s);
  const exported = await get(`${api.url}/notes/export`, strong.accessToken);
  t.is(exported.status, 200);
  t.deepEqual(await exported.json(), { owner: DANA.id, notes: ["Notes of dana"], exported: true });

  // 15 minutes and a second later the access token has expired (900 s); the refreshed one still dates from that sign-in.
  s.clock.advance(EXPORT_SIGN_IN.maxAuthAge! + 1);
  const refreshed = await s.tokens.token(refreshRequest(strong.refreshToken));
  t.is((await get(`${api.url}/notes`, refreshed.accessToken)).status, 200);
  await assertStepUp(t, await get(`${api.url}/notes/export`, refreshed.accessToken));
});

test("a client's own token (client_credentials) meets no sign-in requirement", async (t) => {
  const s = await setup(t);
  await s.core.deps.store.createRole({ ...DEFAULT, id: "notes-reader", description: "reads notes", permissions: [REQUIRED_SCOPE] });
  await s.core.deps.store.assignRole(DEFAULT, { clientId: "m2m-app" }, "notes-reader");
  const { accessToken } = await s.tokens.token({ ...DEFAULT, grantType: "client_credentials", scope: REQUIRED_SCOPE, basic: { clientId: "m2m-app", clientSecret: "m2m-secret" } });
  const api = await notesApi(t, s);
  t.is((await get(`${api.url}/notes`, accessToken)).status, 200);
  await assertStepUp(t, await get(`${api.url}/notes/export`, accessToken));
});

test("oauth4webapi's protectedResourceRequest reads the challenge: scheme bearer, the error, acr_values and max_age", async (t) => {
  const s = await setup(t);
  const api = await notesApi(t, s);
  const weak = await passwordTokens(s);
  const err = await t.throwsAsync(oauth.protectedResourceRequest(weak.accessToken, "GET", new URL(`${api.url}/notes/export`), undefined, undefined, { [oauth.allowInsecureRequests]: true }), {
    instanceOf: oauth.WWWAuthenticateChallengeError,
  });
  t.is(err!.status, 401);
  t.is(err!.cause.length, 1);
  const [challenge] = err!.cause;
  t.is(challenge!.scheme, "bearer");
  t.deepEqual(challenge!.parameters, {
    realm: "notes",
    error: "insufficient_user_authentication",
    error_description: "a stronger or more recent sign-in is required",
    acr_values: MFA_ACR,
    max_age: "900",
    // RFC 9728 §5.1: where a client learns the API's authorization server.
    resource_metadata: `${api.url}/.well-known/oauth-protected-resource/notes`,
  });
});

test("local verification reads acr and auth_time from the token itself: the multi-factor token exports, the password one is challenged", async (t) => {
  const s = await setup(t);
  const api = await notesApi(t, s, { mode: "local", jwksUrl: `${s.project}/.well-known/jwks.json` });
  const weak = await passwordTokens(s);
  t.is((await get(`${api.url}/notes`, weak.accessToken)).status, 200);
  await assertStepUp(t, await get(`${api.url}/notes/export`, weak.accessToken));
  const strong = await mfaTokens(s);
  t.is((await get(`${api.url}/notes/export`, strong.accessToken)).status, 200);
});

test("createAccessTokenVerifier passes the requirement to VerifyToken and answers the sign-in it found", async (t) => {
  const s = await setup(t);
  const verify = createAccessTokenVerifier({ coreUrl: s.grpcUrl, ...DEFAULT });
  const weak = await passwordTokens(s);
  const plain = await verify(weak.accessToken, [REQUIRED_SCOPE]);
  t.true(plain.active);
  t.is(plain.acr, PASSWORD_ACR);
  t.deepEqual(plain.amr, ["pwd"]);
  t.is(plain.authTime, BigInt(Math.floor(s.clock.now() / 1000)));
  t.is((await verify(weak.accessToken, [], { acrValues: [MFA_ACR] })).failure, TokenFailure.INSUFFICIENT_USER_AUTHENTICATION);
  t.true((await verify(weak.accessToken, [], { acrValues: [PASSWORD_ACR, MFA_ACR], maxAuthAge: 60 })).active);
  s.clock.advance(61);
  t.is((await verify(weak.accessToken, [], { maxAuthAge: 60 })).failure, TokenFailure.INSUFFICIENT_USER_AUTHENTICATION);
  // A malformed requirement is the caller's mistake, refused before any call.
  for (const maxAuthAge of [-1, 1.5, Number.NaN]) {
    await t.throwsAsync(verify(weak.accessToken, [], { maxAuthAge }), { instanceOf: RangeError, message: /maxAuthAge/ });
  }
  const unknown = await t.throwsAsync(verify(weak.accessToken, [], { acrValues: ["gold"] }));
  t.regex(unknown!.message, /acr_values may name only/);
});

test("the client's acr constants are the ones the core issues", (t) => {
  t.is(MFA_ACR, levels.MFA_ACR);
  t.is(PASSWORD_ACR, levels.PASSWORD_ACR);
});

test("bearerChallenge answers RFC 9470 §3: 401 insufficient_user_authentication with the acr_values and max_age the route requires", (t) => {
  const result = { active: false, failure: TokenFailure.INSUFFICIENT_USER_AUTHENTICATION } as VerifyTokenResponse;
  const cases: [Parameters<typeof bearerChallenge>[1], string][] = [
    [
      { result, requiredScopes: [], signIn: { acrValues: [MFA_ACR] } },
      'Bearer realm="api", error="insufficient_user_authentication", error_description="a stronger sign-in is required", acr_values="urn:iam-core:acr:mfa"',
    ],
    [
      { result, requiredScopes: [], signIn: { maxAuthAge: 300 } },
      'Bearer realm="api", error="insufficient_user_authentication", error_description="a more recent sign-in is required", max_age="300"',
    ],
    [
      { result, requiredScopes: ["a"], signIn: { acrValues: [MFA_ACR, PASSWORD_ACR], maxAuthAge: 0 } },
      'Bearer realm="api", error="insufficient_user_authentication", error_description="a stronger or more recent sign-in is required", acr_values="urn:iam-core:acr:mfa urn:iam-core:acr:password", max_age="0"',
    ],
  ];
  for (const [refusal, header] of cases) {
    const c = bearerChallenge("api", refusal);
    t.is(c.status, 401);
    t.is(c.header, header);
    t.is(c.body.error, "insufficient_user_authentication");
  }
});
