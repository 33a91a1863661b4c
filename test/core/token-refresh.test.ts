import { Code } from "@connectrpc/connect";
import test from "ava";
import { decodeJwt } from "jose";
import { TokenFailure } from "../../gen/iam/v1/token_pb.js";
import { DEFAULT, RFC7636_CHALLENGE, RFC7636_VERIFIER } from "../helpers.js";
import {
  ALICE,
  DELETE,
  exchangeRequest,
  expectOAuthError,
  nowSeconds,
  obtainCode,
  obtainTokens,
  OTHER,
  READ,
  refreshRecordOf,
  refreshRequest,
  seedOtherProject,
  setUserEnabled,
  setup,
  SPA,
  WEB,
  WEB2,
  WRITE,
} from "./flow.js";

test("a refresh rotates the refresh token and issues a new access token of the same grant", async (t) => {
  const c = await setup(t);
  const first = await obtainTokens(c);
  c.clock.advance(10);
  const second = await c.tokens.token(refreshRequest(first.refreshToken));
  t.is(second.tokenType, "Bearer");
  t.is(second.expiresIn, BigInt(WEB.accessTokenTtl));
  t.is(second.scope, `${READ} ${WRITE}`);
  t.regex(second.refreshToken, /^[A-Za-z0-9_-]{43}$/);
  t.not(second.refreshToken, first.refreshToken);
  t.not(second.accessToken, first.accessToken);

  const a = decodeJwt(first.accessToken);
  const b = decodeJwt(second.accessToken);
  t.is(b.gid, a.gid, "same grant");
  t.not(b.jti, a.jti);
  t.is(b.iat, nowSeconds(c));
  t.is(b.sub, ALICE.id);

  t.is((await refreshRecordOf(c, first.refreshToken))!.rotatedAt, nowSeconds(c));
  t.is((await refreshRecordOf(c, second.refreshToken))!.rotatedAt, null);
  t.is((await refreshRecordOf(c, second.refreshToken))!.expiresAt, nowSeconds(c) + WEB.refreshTokenTtl);
  // Both access tokens remain valid: rotation revokes nothing by itself.
  t.true((await c.tokens.verifyToken({ token: first.accessToken })).active);
  t.true((await c.tokens.verifyToken({ token: second.accessToken })).active);
});

test("a chain of refreshes works, each token once", async (t) => {
  const c = await setup(t);
  let refreshToken = (await obtainTokens(c)).refreshToken;
  const seen = new Set([refreshToken]);
  for (let i = 0; i < 4; i++) {
    c.clock.advance(60);
    refreshToken = (await c.tokens.token(refreshRequest(refreshToken))).refreshToken;
    seen.add(refreshToken);
  }
  t.is(seen.size, 5);
});

test("when a rotated refresh token is reused, it fails with invalid_grant and the whole family is revoked", async (t) => {
  const c = await setup(t);
  const first = await obtainTokens(c);
  const second = await c.tokens.token(refreshRequest(first.refreshToken));
  const third = await c.tokens.token(refreshRequest(second.refreshToken));

  await expectOAuthError(t, c.tokens.token(refreshRequest(first.refreshToken)), { error: "invalid_grant", code: Code.FailedPrecondition });

  // The newest refresh token of the family is dead too.
  await expectOAuthError(t, c.tokens.token(refreshRequest(third.refreshToken)), { error: "invalid_grant" });
  // And every access token of the family stops verifying.
  for (const token of [first.accessToken, second.accessToken, third.accessToken]) {
    const verified = await c.tokens.verifyToken({ token });
    t.false(verified.active);
    t.is(verified.failure, TokenFailure.REVOKED);
  }
});

test("reuse of a rotated refresh token does not touch another grant of the same user and client", async (t) => {
  const c = await setup(t);
  const family = await obtainTokens(c);
  const other = await obtainTokens(c);
  await c.tokens.token(refreshRequest(family.refreshToken));
  await expectOAuthError(t, c.tokens.token(refreshRequest(family.refreshToken)), { error: "invalid_grant" });
  t.true((await c.tokens.verifyToken({ token: other.accessToken })).active);
  const next = await c.tokens.token(refreshRequest(other.refreshToken));
  t.truthy(next.accessToken);
});

test("a refresh may narrow the scope of the new access token; the refresh token keeps the original scope", async (t) => {
  const c = await setup(t);
  const first = await obtainTokens(c);
  const narrowed = await c.tokens.token(refreshRequest(first.refreshToken, { scope: READ }));
  t.is(narrowed.scope, READ);
  t.is(decodeJwt(narrowed.accessToken).scope, READ);
  t.deepEqual((await c.tokens.verifyToken({ token: narrowed.accessToken })).scopes, [READ]);

  const later = await c.tokens.token(refreshRequest(narrowed.refreshToken));
  t.is(later.scope, `${READ} ${WRITE}`);
  t.is(decodeJwt(later.accessToken).scope, `${READ} ${WRITE}`);
});

test("narrowing keeps the granted order whatever order the request names", async (t) => {
  const c = await setup(t);
  const first = await obtainTokens(c);
  const same = await c.tokens.token(refreshRequest(first.refreshToken, { scope: `${WRITE} ${READ}` }));
  t.deepEqual(same.scope.split(" ").sort(), [READ, WRITE]);
});

const widening: { title: string; scope: string }[] = [
  { title: "a scope the user holds but did not grant", scope: `${READ} ${WRITE}` },
  { title: "a scope the user never held", scope: `${READ} ${DELETE}` },
  { title: "an unknown scope", scope: "unknown.thing.read" },
  { title: "a scope with a forbidden character", scope: 'bad"scope' },
];
for (const c0 of widening) {
  test(`a refresh asking for ${c0.title} is invalid_scope, and the refresh token stays usable`, async (t) => {
    const c = await setup(t);
    const first = await obtainTokens(c, { approve: [READ] });
    t.is(first.scope, READ);
    await expectOAuthError(t, c.tokens.token(refreshRequest(first.refreshToken, { scope: c0.scope })), {
      error: "invalid_scope",
      code: Code.InvalidArgument,
    });
    const ok = await c.tokens.token(refreshRequest(first.refreshToken));
    t.is(ok.scope, READ);
  });
}

test("another client's refresh token is invalid_grant, and its own client may still use it", async (t) => {
  const c = await setup(t);
  const first = await obtainTokens(c);
  await expectOAuthError(t, c.tokens.token(refreshRequest(first.refreshToken, { basic: { clientId: WEB2.id, clientSecret: WEB2.secret } })), {
    error: "invalid_grant",
    code: Code.FailedPrecondition,
  });
  t.true((await c.tokens.verifyToken({ token: first.accessToken })).active);
  const ok = await c.tokens.token(refreshRequest(first.refreshToken));
  t.truthy(ok.refreshToken);
});

test("a public client refreshes without authentication, and a confidential client cannot use its token", async (t) => {
  const c = await setup(t);
  const { code } = await obtainCode(c, {
    authorize: { clientId: SPA.id, redirectUri: SPA.redirectUri, codeChallenge: RFC7636_CHALLENGE, codeChallengeMethod: "S256" },
  });
  const first = await c.tokens.token(
    exchangeRequest(code, { redirectUri: SPA.redirectUri, basic: undefined, clientId: SPA.id, codeVerifier: RFC7636_VERIFIER }),
  );
  await expectOAuthError(t, c.tokens.token(refreshRequest(first.refreshToken)), { error: "invalid_grant" });
  const ok = await c.tokens.token(refreshRequest(first.refreshToken, { basic: undefined, clientId: SPA.id }));
  t.not(ok.refreshToken, first.refreshToken);
});

test("a refresh token is accepted just before its expiry", async (t) => {
  const c = await setup(t);
  const first = await obtainTokens(c);
  c.clock.advance(WEB.refreshTokenTtl - 1);
  const ok = await c.tokens.token(refreshRequest(first.refreshToken));
  t.truthy(ok.accessToken);
});

test("an expired refresh token is invalid_grant", async (t) => {
  const c = await setup(t);
  const first = await obtainTokens(c);
  c.clock.advance(WEB.refreshTokenTtl + 1);
  await expectOAuthError(t, c.tokens.token(refreshRequest(first.refreshToken)), { error: "invalid_grant", code: Code.FailedPrecondition });
});

test("a disabled user's refresh token is invalid_grant", async (t) => {
  const c = await setup(t);
  const first = await obtainTokens(c);
  await setUserEnabled(c, DEFAULT, ALICE.id, false);
  await expectOAuthError(t, c.tokens.token(refreshRequest(first.refreshToken)), { error: "invalid_grant", code: Code.FailedPrecondition });
});

test("a missing refresh_token is invalid_request", async (t) => {
  const c = await setup(t);
  await expectOAuthError(t, c.tokens.token(refreshRequest("")), { error: "invalid_request", code: Code.InvalidArgument });
});

const refreshErrors: { title: string; token: string; error: string }[] = [
  { title: "an unknown refresh token", token: "B".repeat(43), error: "invalid_grant" },
  { title: "garbage", token: "not a token at all", error: "invalid_grant" },
];
for (const c0 of refreshErrors) {
  test(`refreshing with ${c0.title} is ${c0.error}`, async (t) => {
    const c = await setup(t);
    await expectOAuthError(t, c.tokens.token(refreshRequest(c0.token)), { error: c0.error });
  });
}

test("an access token is not a refresh token", async (t) => {
  const c = await setup(t);
  const first = await obtainTokens(c);
  await expectOAuthError(t, c.tokens.token(refreshRequest(first.accessToken)), { error: "invalid_grant" });
});

test("an authorization code is not a refresh token", async (t) => {
  const c = await setup(t);
  const { code } = await obtainCode(c);
  await expectOAuthError(t, c.tokens.token(refreshRequest(code)), { error: "invalid_grant" });
});

test("a refresh token of one project is invalid_grant at another project's endpoint", async (t) => {
  const c = await setup(t);
  await seedOtherProject(c); // a client with WEB's id and secret
  const first = await obtainTokens(c);
  await expectOAuthError(t, c.tokens.token(refreshRequest(first.refreshToken, { ...OTHER })), { error: "invalid_grant" });
  const ok = await c.tokens.token(refreshRequest(first.refreshToken));
  t.truthy(ok.accessToken);
});

test("refresh errors: wrong client secret is invalid_client before the token is looked at", async (t) => {
  const c = await setup(t);
  const first = await obtainTokens(c);
  await expectOAuthError(t, c.tokens.token(refreshRequest(first.refreshToken, { basic: { clientId: WEB.id, clientSecret: "wrong" } })), {
    error: "invalid_client",
    code: Code.Unauthenticated,
  });
  t.is((await refreshRecordOf(c, first.refreshToken))!.rotatedAt, null);
});

test("a repeated refresh_token parameter is invalid_request and rotates nothing", async (t) => {
  const c = await setup(t);
  const first = await obtainTokens(c);
  await expectOAuthError(t, c.tokens.token(refreshRequest(first.refreshToken, { repeatedParameters: ["refresh_token"] })), {
    error: "invalid_request",
  });
  t.is((await refreshRecordOf(c, first.refreshToken))!.rotatedAt, null);
});

test("two concurrent refreshes with one token: at most one succeeds, and the family is revoked", async (t) => {
  const c = await setup(t);
  const first = await obtainTokens(c);
  const results = await Promise.allSettled([
    c.tokens.token(refreshRequest(first.refreshToken)),
    c.tokens.token(refreshRequest(first.refreshToken)),
  ]);
  t.true(results.filter((r) => r.status === "fulfilled").length <= 1);
  t.true(results.some((r) => r.status === "rejected"));
  t.is((await c.tokens.verifyToken({ token: first.accessToken })).failure, TokenFailure.REVOKED);
});
