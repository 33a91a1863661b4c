import { Code } from "@connectrpc/connect";
import test from "ava";
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from "jose";
import { TokenFailure } from "../../gen/iam/v1/token_pb.js";
import { DEFAULT, RFC7636_CHALLENGE, RFC7636_VERIFIER, type TestCore } from "../helpers.js";
import {
  ALICE,
  codeRecordOf,
  countRows,
  exchangeRequest,
  expectOAuthError,
  ISSUER,
  M2M,
  NOREFRESH,
  nowSeconds,
  obtainCode,
  OTHER,
  READ,
  refreshRequest,
  seedOtherProject,
  setUserEnabled,
  setup,
  SPA,
  WEB,
  WEB2,
  WRITE,
  type AuthorizeInit,
  type TokenInit,
} from "./flow.js";

const pkceS256: Partial<AuthorizeInit> = { codeChallenge: RFC7636_CHALLENGE, codeChallengeMethod: "S256" };
const spaFlow: Partial<AuthorizeInit> = { clientId: SPA.id, redirectUri: SPA.redirectUri, ...pkceS256 };
const spaExchange = (code: string, overrides: Partial<TokenInit> = {}): TokenInit =>
  exchangeRequest(code, { redirectUri: SPA.redirectUri, basic: undefined, clientId: SPA.id, codeVerifier: RFC7636_VERIFIER, ...overrides });

async function jwks(c: TestCore) {
  return (await c.tokens.getJwks(DEFAULT)).keys.map((k) => ({ kty: k.kty, crv: k.crv, x: k.x, y: k.y, kid: k.kid, alg: k.alg, use: k.use }));
}

// ================================================================ success

test("a confidential client (client_secret_basic) exchanges its code for a Bearer token, a refresh token and the scope", async (t) => {
  const c = await setup(t);
  const { code } = await obtainCode(c);
  const res = await c.tokens.token(exchangeRequest(code));
  t.is(res.tokenType, "Bearer");
  t.is(res.expiresIn, BigInt(WEB.accessTokenTtl));
  t.regex(res.refreshToken, /^[A-Za-z0-9_-]{43}$/);
  t.is(res.scope, `${READ} ${WRITE}`);
  t.truthy(res.accessToken);
  const record = await codeRecordOf(c, code);
  t.is(record!.consumedAt, nowSeconds(c), "the code is marked used");
  t.truthy(record!.grantId);
});

test("a confidential client may authenticate with client_secret_post", async (t) => {
  const c = await setup(t);
  const { code } = await obtainCode(c);
  const res = await c.tokens.token(exchangeRequest(code, { basic: undefined, clientId: WEB.id, clientSecret: WEB.secret }));
  t.is(res.tokenType, "Bearer");
  t.true((await c.tokens.verifyToken({ token: res.accessToken })).active);
});

test("client_secret_basic may repeat the same client_id in the body", async (t) => {
  const c = await setup(t);
  const { code } = await obtainCode(c);
  const res = await c.tokens.token(exchangeRequest(code, { clientId: WEB.id }));
  t.true((await c.tokens.verifyToken({ token: res.accessToken })).active);
});

test("a public client (no authentication) exchanges its code with the S256 verifier", async (t) => {
  const c = await setup(t);
  const { code } = await obtainCode(c, { authorize: spaFlow });
  const res = await c.tokens.token(spaExchange(code));
  t.is(res.tokenType, "Bearer");
  t.is(res.expiresIn, 300n);
  t.truthy(res.refreshToken);
  const verified = await c.tokens.verifyToken({ token: res.accessToken });
  t.true(verified.active);
  t.is(verified.clientId, SPA.id);
});

test("a public client exchanges its code with a plain challenge", async (t) => {
  const c = await setup(t);
  const { code } = await obtainCode(c, { authorize: { ...spaFlow, codeChallenge: RFC7636_VERIFIER, codeChallengeMethod: "plain" } });
  const res = await c.tokens.token(spaExchange(code));
  t.true((await c.tokens.verifyToken({ token: res.accessToken })).active);
});

test("a challenge given without a method is checked as plain at the exchange", async (t) => {
  const c = await setup(t);
  const { code } = await obtainCode(c, { authorize: { ...spaFlow, codeChallenge: RFC7636_VERIFIER, codeChallengeMethod: "" } });
  const res = await c.tokens.token(spaExchange(code));
  t.true((await c.tokens.verifyToken({ token: res.accessToken })).active);
});

test("a confidential client that used S256 must send the verifier too, and then succeeds", async (t) => {
  const c = await setup(t);
  const { code } = await obtainCode(c, { authorize: pkceS256 });
  const res = await c.tokens.token(exchangeRequest(code, { codeVerifier: RFC7636_VERIFIER }));
  t.true((await c.tokens.verifyToken({ token: res.accessToken })).active);
});

test("a client without the refresh_token grant gets no refresh token", async (t) => {
  const c = await setup(t);
  const { code } = await obtainCode(c, { authorize: { clientId: NOREFRESH.id, redirectUri: NOREFRESH.redirectUri } });
  const res = await c.tokens.token(
    exchangeRequest(code, { redirectUri: NOREFRESH.redirectUri, basic: { clientId: NOREFRESH.id, clientSecret: NOREFRESH.secret } }),
  );
  t.is(res.refreshToken, "");
  t.is(res.tokenType, "Bearer");
  t.is(await countRows(c, "refresh_tokens"), 0);
});

test("the granted scope is the one approved at consent", async (t) => {
  const c = await setup(t);
  const { code } = await obtainCode(c, { approve: [WRITE] });
  const res = await c.tokens.token(exchangeRequest(code));
  t.is(res.scope, WRITE);
  t.is(decodeJwt(res.accessToken).scope, WRITE);
});

test("the access token is an ES256 at+jwt signed with the project's current key, with the RFC 9068 claims", async (t) => {
  const c = await setup(t);
  const { code } = await obtainCode(c);
  const now = nowSeconds(c);
  const res = await c.tokens.token(exchangeRequest(code));

  const header = decodeProtectedHeader(res.accessToken);
  const keys = await jwks(c);
  t.is(header.typ, "at+jwt");
  t.is(header.alg, "ES256");
  t.is(header.kid, keys[0]!.kid);

  const claims = decodeJwt(res.accessToken);
  t.is(claims.iss, ISSUER);
  t.is(claims.sub, ALICE.id);
  t.is(claims.aud, ISSUER, "the project's audience");
  t.is(claims.client_id, WEB.id);
  t.is(claims.scope, `${READ} ${WRITE}`);
  t.is(claims.iat, now);
  t.is(claims.exp, now + WEB.accessTokenTtl);
  t.is(typeof claims.jti, "string");
  t.true((claims.jti as string).length >= 16);
  t.is(claims.gid, (await codeRecordOf(c, code))!.grantId);

  // The signature verifies against the published JWK Set.
  const { payload } = await jwtVerify(res.accessToken, createLocalJWKSet({ keys }), {
    issuer: ISSUER,
    audience: ISSUER,
    typ: "at+jwt",
    algorithms: ["ES256"],
    currentDate: new Date(c.clock.now()),
  });
  t.is(payload.sub, ALICE.id);
});

test("two exchanges give tokens with different jti and different grants", async (t) => {
  const c = await setup(t);
  const a = decodeJwt((await c.tokens.token(exchangeRequest((await obtainCode(c)).code))).accessToken);
  const b = decodeJwt((await c.tokens.token(exchangeRequest((await obtainCode(c)).code))).accessToken);
  t.not(a.jti, b.jti);
  t.not(a.gid, b.gid);
});

// ================================================================ request and client errors (no code needed)

const endpointErrors: { title: string; request: Partial<TokenInit>; error: string; code?: Code }[] = [
  { title: "a missing grant_type", request: { grantType: "" }, error: "invalid_request" },
  { title: "an unknown grant_type", request: { grantType: "implicit" }, error: "unsupported_grant_type" },
  { title: "the password grant for a client not configured for it", request: { grantType: "password" }, error: "unauthorized_client", code: Code.PermissionDenied },
  { title: "a grant_type of another case", request: { grantType: "Authorization_Code" }, error: "unsupported_grant_type" },
  { title: "a repeated code", request: { repeatedParameters: ["code"] }, error: "invalid_request" },
  { title: "a repeated grant_type", request: { repeatedParameters: ["grant_type"] }, error: "invalid_request" },
  { title: "a repeated client_id", request: { repeatedParameters: ["client_id"] }, error: "invalid_request" },
  { title: "a wrong secret (client_secret_basic)", request: { basic: { clientId: WEB.id, clientSecret: "wrong" } }, error: "invalid_client", code: Code.Unauthenticated },
  { title: "a wrong secret (client_secret_post)", request: { basic: undefined, clientId: WEB.id, clientSecret: "wrong" }, error: "invalid_client", code: Code.Unauthenticated },
  { title: "another client's secret", request: { basic: { clientId: WEB.id, clientSecret: WEB2.secret } }, error: "invalid_client", code: Code.Unauthenticated },
  { title: "an unknown client (basic)", request: { basic: { clientId: "nobody", clientSecret: "x" } }, error: "invalid_client", code: Code.Unauthenticated },
  { title: "an unknown client (post)", request: { basic: undefined, clientId: "nobody", clientSecret: "x" }, error: "invalid_client", code: Code.Unauthenticated },
  { title: "an unknown client (none)", request: { basic: undefined, clientId: "nobody" }, error: "invalid_client", code: Code.Unauthenticated },
  { title: "no client at all", request: { basic: undefined, clientId: "" }, error: "invalid_client", code: Code.Unauthenticated },
  { title: "a confidential client sending no secret", request: { basic: undefined, clientId: WEB.id }, error: "invalid_client", code: Code.Unauthenticated },
  { title: "a confidential client sending an empty Basic secret", request: { basic: { clientId: WEB.id, clientSecret: "" } }, error: "invalid_client", code: Code.Unauthenticated },
  { title: "a public client sending a secret (post)", request: { basic: undefined, clientId: SPA.id, clientSecret: "made-up" }, error: "invalid_client", code: Code.Unauthenticated },
  { title: "a public client sending a secret (basic)", request: { basic: { clientId: SPA.id, clientSecret: "made-up" } }, error: "invalid_client", code: Code.Unauthenticated },
  { title: "a token request to an unknown project", request: { ...OTHER }, error: "invalid_client", code: Code.Unauthenticated },
  { title: "both client_secret_basic and client_secret", request: { clientSecret: WEB.secret }, error: "invalid_request" },
  { title: "a body client_id differing from the Basic one", request: { clientId: WEB2.id }, error: "invalid_request" },
  { title: "a client without the authorization_code grant", request: { basic: { clientId: M2M.id, clientSecret: M2M.secret } }, error: "unauthorized_client" },
  { title: "a missing code", request: { code: "" }, error: "invalid_request" },
  { title: "an unknown code", request: { code: "A".repeat(43) }, error: "invalid_grant" },
];
for (const c0 of endpointErrors) {
  test(`the token endpoint answers ${c0.error} to ${c0.title}`, async (t) => {
    const c = await setup(t);
    // A real, unused code of WEB, so that only the named fault is wrong.
    const { code } = await obtainCode(c);
    await expectOAuthError(t, c.tokens.token(exchangeRequest(code, c0.request)), { error: c0.error, code: c0.code });
    t.is((await codeRecordOf(c, code))!.consumedAt, null, "the code is not spent by a refused request");
    t.is(await countRows(c, "grants"), 0, "no grant is created");
  });
}

// ================================================================ invalid_grant on the code itself

interface GrantCase {
  title: string;
  authorize?: Partial<AuthorizeInit>;
  exchange: (code: string) => TokenInit;
  before?: (c: TestCore) => Promise<void> | void;
}
const grantErrors: GrantCase[] = [
  {
    title: "a code issued to another client",
    exchange: (code) => exchangeRequest(code, { basic: { clientId: WEB2.id, clientSecret: WEB2.secret } }),
  },
  {
    title: "a code of a confidential client presented by a public one",
    authorize: pkceS256,
    exchange: (code) => exchangeRequest(code, { basic: undefined, clientId: SPA.id, codeVerifier: RFC7636_VERIFIER }),
  },
  { title: "a different redirect_uri", exchange: (code) => exchangeRequest(code, { redirectUri: WEB.redirectWithQuery }) },
  { title: "a redirect_uri with a trailing slash", exchange: (code) => exchangeRequest(code, { redirectUri: `${WEB.redirectUri}/` }) },
  { title: "a missing redirect_uri", exchange: (code) => exchangeRequest(code, { redirectUri: "" }) },
  { title: "an expired code (61 s)", exchange: (code) => exchangeRequest(code), before: (c) => c.clock.advance(61) },
  { title: "a code at exactly its expiry (60 s)", exchange: (code) => exchangeRequest(code), before: (c) => c.clock.advance(60) },
  { title: "a missing verifier when a challenge was given", authorize: spaFlow, exchange: (code) => spaExchange(code, { codeVerifier: "" }) },
  {
    title: "a missing verifier when a confidential client gave a challenge",
    authorize: pkceS256,
    exchange: (code) => exchangeRequest(code),
  },
  {
    title: "a verifier when no challenge was given",
    exchange: (code) => exchangeRequest(code, { codeVerifier: RFC7636_VERIFIER }),
  },
  {
    title: "a wrong verifier",
    authorize: spaFlow,
    exchange: (code) => spaExchange(code, { codeVerifier: "x".repeat(43) }),
  },
  {
    title: "the challenge itself sent as the verifier (plain against S256)",
    authorize: spaFlow,
    exchange: (code) => spaExchange(code, { codeVerifier: RFC7636_CHALLENGE }),
  },
  {
    title: "a verifier too short to be one, matching a plain challenge prefix",
    authorize: { ...spaFlow, codeChallenge: RFC7636_VERIFIER, codeChallengeMethod: "plain" },
    exchange: (code) => spaExchange(code, { codeVerifier: RFC7636_VERIFIER.slice(0, 42) }),
  },
  {
    title: "a plain verifier differing in case",
    authorize: { ...spaFlow, codeChallenge: RFC7636_VERIFIER, codeChallengeMethod: "plain" },
    exchange: (code) => spaExchange(code, { codeVerifier: RFC7636_VERIFIER.toUpperCase() }),
  },
];
for (const c0 of grantErrors) {
  test(`exchanging ${c0.title} is invalid_grant`, async (t) => {
    const c = await setup(t);
    const { code } = await obtainCode(c, { authorize: c0.authorize });
    await c0.before?.(c);
    await expectOAuthError(t, c.tokens.token(c0.exchange(code)), { error: "invalid_grant", code: Code.FailedPrecondition });
    t.is(await countRows(c, "grants"), 0, "no grant is created");
  });
}

test("a code presented by the wrong client is still usable by its own client", async (t) => {
  const c = await setup(t);
  const { code } = await obtainCode(c);
  await expectOAuthError(t, c.tokens.token(exchangeRequest(code, { basic: { clientId: WEB2.id, clientSecret: WEB2.secret } })), {
    error: "invalid_grant",
  });
  const res = await c.tokens.token(exchangeRequest(code));
  t.true((await c.tokens.verifyToken({ token: res.accessToken })).active);
});

test("a code is still accepted 59 seconds after consent", async (t) => {
  const c = await setup(t);
  const { code } = await obtainCode(c);
  c.clock.advance(59);
  const res = await c.tokens.token(exchangeRequest(code));
  t.true((await c.tokens.verifyToken({ token: res.accessToken })).active);
});

// ================================================================ replay

test("when a code is used twice, the second exchange fails with invalid_grant and the first tokens stop working", async (t) => {
  const c = await setup(t);
  const { code } = await obtainCode(c);
  const first = await c.tokens.token(exchangeRequest(code));
  t.true((await c.tokens.verifyToken({ token: first.accessToken })).active);

  await expectOAuthError(t, c.tokens.token(exchangeRequest(code)), { error: "invalid_grant", code: Code.FailedPrecondition });

  const verified = await c.tokens.verifyToken({ token: first.accessToken });
  t.false(verified.active);
  t.is(verified.failure, TokenFailure.REVOKED);
  await expectOAuthError(t, c.tokens.token(refreshRequest(first.refreshToken)), { error: "invalid_grant" });
  t.is(await countRows(c, "grants"), 1, "no second grant");
});

test("a replay after the code expired still revokes the tokens issued from it", async (t) => {
  const c = await setup(t);
  const { code } = await obtainCode(c);
  const first = await c.tokens.token(exchangeRequest(code));
  c.clock.advance(120);
  await expectOAuthError(t, c.tokens.token(exchangeRequest(code)), { error: "invalid_grant" });
  t.is((await c.tokens.verifyToken({ token: first.accessToken })).failure, TokenFailure.REVOKED);
});

test("a replay also revokes the tokens refreshed from the first exchange", async (t) => {
  const c = await setup(t);
  const { code } = await obtainCode(c);
  const first = await c.tokens.token(exchangeRequest(code));
  const refreshed = await c.tokens.token(refreshRequest(first.refreshToken));
  await expectOAuthError(t, c.tokens.token(exchangeRequest(code)), { error: "invalid_grant" });
  t.is((await c.tokens.verifyToken({ token: refreshed.accessToken })).failure, TokenFailure.REVOKED);
  await expectOAuthError(t, c.tokens.token(refreshRequest(refreshed.refreshToken)), { error: "invalid_grant" });
});

test("a replay by a public client revokes its first tokens too", async (t) => {
  const c = await setup(t);
  const { code } = await obtainCode(c, { authorize: spaFlow });
  const first = await c.tokens.token(spaExchange(code));
  await expectOAuthError(t, c.tokens.token(spaExchange(code)), { error: "invalid_grant" });
  t.is((await c.tokens.verifyToken({ token: first.accessToken })).failure, TokenFailure.REVOKED);
});

test("two concurrent exchanges of one code: exactly one wins", async (t) => {
  const c = await setup(t);
  const { code } = await obtainCode(c);
  const results = await Promise.allSettled([c.tokens.token(exchangeRequest(code)), c.tokens.token(exchangeRequest(code))]);
  t.is(results.filter((r) => r.status === "fulfilled").length, 1);
  t.is(await countRows(c, "grants"), 1);
});

// ================================================================ tenancy and the user

test("a code of one project cannot be exchanged at another project's token endpoint", async (t) => {
  const c = await setup(t);
  await seedOtherProject(c); // has a client with WEB's id, secret and redirect URI
  const { code } = await obtainCode(c);
  await expectOAuthError(t, c.tokens.token(exchangeRequest(code, { ...OTHER })), { error: "invalid_grant", code: Code.FailedPrecondition });
  // It remains the default project's code.
  const res = await c.tokens.token(exchangeRequest(code));
  t.true((await c.tokens.verifyToken({ token: res.accessToken })).active);
});

test("a user disabled between consent and exchange gets no tokens: invalid_grant", async (t) => {
  const c = await setup(t);
  const { code } = await obtainCode(c);
  await setUserEnabled(c, DEFAULT, ALICE.id, false);
  await expectOAuthError(t, c.tokens.token(exchangeRequest(code)), { error: "invalid_grant", code: Code.FailedPrecondition });
  t.is(await countRows(c, "grants"), 0);
});

test("a refused exchange leaves the code usable for a correct one (wrong verifier)", async (t) => {
  const c = await setup(t);
  const { code } = await obtainCode(c, { authorize: spaFlow });
  await expectOAuthError(t, c.tokens.token(spaExchange(code, { codeVerifier: "y".repeat(43) })), { error: "invalid_grant" });
  const res = await c.tokens.token(spaExchange(code));
  t.true((await c.tokens.verifyToken({ token: res.accessToken })).active);
});

test("a client without the refresh_token grant asking to refresh is unauthorized_client", async (t) => {
  const c = await setup(t);
  await expectOAuthError(t, c.tokens.token(refreshRequest("anything", { basic: { clientId: NOREFRESH.id, clientSecret: NOREFRESH.secret } })), {
    error: "unauthorized_client",
  });
  t.is(await countRows(c, "grants"), 0);
});
