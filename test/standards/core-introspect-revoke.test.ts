/**
 * Token introspection (RFC 7662) and revocation (RFC 7009) on the core's
 * Introspect and Revoke RPCs.
 */
import { Code } from "@connectrpc/connect";
import test from "ava";
import { decodeJwt } from "jose";
import { TokenFailure } from "../../gen/iam/v1/token_pb.js";
import { DEFAULT } from "../helpers.js";
import {
  ALICE,
  exchangeRequest,
  expectOAuthError,
  ISSUER,
  issuerOf,
  nowSeconds,
  obtainCode,
  obtainTokens,
  OTHER,
  READ,
  refreshRequest,
  seedOtherProject,
  SPA,
  WEB,
  WEB2,
  WRITE,
  M2M,
} from "../core/flow.js";
import { m2mToken, spaTokens, standardCore } from "./core-support.js";
import type { TestCore } from "../helpers.js";

const webBasic = { basic: { clientId: WEB.id, clientSecret: WEB.secret } };
const webPost = { clientId: WEB.id, clientSecret: WEB.secret };
const web2Basic = { basic: { clientId: WEB2.id, clientSecret: WEB2.secret } };

const introspect = (c: TestCore, token: string, extra: { tokenTypeHint?: string; client?: object } = {}) =>
  c.tokens.introspect({ ...DEFAULT, token, client: webBasic, ...extra });

/** An inactive answer is `active: false` and nothing else (RFC 7662 §2.2). */
async function assertInactive(t: import("ava").ExecutionContext, c: TestCore, token: string, what: string, hint = ""): Promise<void> {
  const a = await introspect(c, token, { tokenTypeHint: hint });
  t.false(a.active, `${what}: inactive`);
  t.is(a.scope, "", `${what}: no scope`);
  t.is(a.clientId, "", `${what}: no client_id`);
  t.is(a.username, "", `${what}: no username`);
  t.is(a.tokenType, "", `${what}: no token_type`);
  t.is(a.exp, 0n, `${what}: no exp`);
  t.is(a.iat, 0n, `${what}: no iat`);
  t.is(a.sub, "", `${what}: no sub`);
  t.deepEqual(a.aud, [], `${what}: no aud`);
  t.is(a.iss, "", `${what}: no iss`);
  t.is(a.jti, "", `${what}: no jti`);
}

// ---------------------------------------------------------------- Introspect

test("introspecting an access token (client_secret_basic and client_secret_post) answers its RFC 7662 fields", async (t) => {
  const c = await standardCore(t);
  const res = await obtainTokens(c);
  const claims = decodeJwt(res.accessToken);
  for (const client of [webBasic, webPost]) {
    const a = await introspect(c, res.accessToken, { client });
    t.true(a.active);
    t.is(a.scope, `${READ} ${WRITE}`);
    t.is(a.clientId, WEB.id);
    t.is(a.username, ALICE.id);
    t.is(a.tokenType, "Bearer");
    t.is(a.exp, BigInt(nowSeconds(c) + WEB.accessTokenTtl));
    t.is(a.iat, BigInt(nowSeconds(c)));
    t.is(a.sub, ALICE.id);
    t.deepEqual(a.aud, [ISSUER], "the project's audience");
    t.is(a.iss, issuerOf(DEFAULT));
    t.is(a.jti, claims.jti ?? "(no jti claim)");
    t.truthy(a.jti);
  }
  // Any confidential client of the project may introspect (RFC 7662 §2.1).
  const byOther = await introspect(c, res.accessToken, { client: web2Basic });
  t.true(byOther.active);
  t.is(byOther.clientId, WEB.id, "client_id is the token's client, not the caller");
});

test("introspecting a refresh token answers token_type refresh_token", async (t) => {
  const c = await standardCore(t);
  const issuedAt = nowSeconds(c);
  const res = await obtainTokens(c);
  c.clock.advance(10);
  for (const hint of ["", "refresh_token", "access_token"]) {
    const a = await introspect(c, res.refreshToken, { tokenTypeHint: hint });
    t.true(a.active, `hint "${hint}"`);
    t.is(a.tokenType, "refresh_token");
    t.is(a.scope, `${READ} ${WRITE}`);
    t.is(a.clientId, WEB.id);
    t.is(a.username, ALICE.id);
    t.is(a.sub, ALICE.id);
    t.is(a.exp, BigInt(issuedAt + WEB.refreshTokenTtl));
    t.is(a.iat, BigInt(issuedAt));
    t.is(a.iss, issuerOf(DEFAULT));
    t.deepEqual(a.aud, [ISSUER]);
  }
});

test("introspecting a client_credentials token: sub is the client, no username", async (t) => {
  const c = await standardCore(t);
  const res = await m2mToken(c);
  const a = await introspect(c, res.accessToken);
  t.true(a.active);
  t.is(a.tokenType, "Bearer");
  t.is(a.sub, M2M.id);
  t.is(a.clientId, M2M.id);
  t.is(a.username, "");
});

test("a token_type_hint of refresh_token does not stop an access token from being found", async (t) => {
  const c = await standardCore(t);
  const res = await obtainTokens(c);
  const a = await introspect(c, res.accessToken, { tokenTypeHint: "refresh_token" });
  t.true(a.active);
  t.is(a.tokenType, "Bearer");
  t.is(a.sub, ALICE.id);
});

test("an expired access token is inactive", async (t) => {
  const c = await standardCore(t);
  const res = await obtainTokens(c);
  c.clock.advance(WEB.accessTokenTtl - 1);
  t.true((await introspect(c, res.accessToken)).active);
  c.clock.advance(1);
  await assertInactive(t, c, res.accessToken, "at exp");
  c.clock.advance(3600);
  await assertInactive(t, c, res.accessToken, "long past exp");
});

test("revoked, rotated and expired refresh tokens are inactive, and so are the revoked grant's access tokens", async (t) => {
  const c = await standardCore(t);
  const first = await obtainTokens(c);
  c.clock.advance(5);
  const second = await c.tokens.token(refreshRequest(first.refreshToken));
  await assertInactive(t, c, first.refreshToken, "rotated refresh token");
  t.true((await introspect(c, second.refreshToken)).active);
  t.true((await introspect(c, first.accessToken)).active, "rotation revokes no access token");

  // Expired refresh token: a fresh grant, past its refresh lifetime.
  const expiring = await obtainTokens(c);
  c.clock.advance(WEB.refreshTokenTtl - 1);
  t.true((await introspect(c, expiring.refreshToken)).active);
  c.clock.advance(1);
  await assertInactive(t, c, expiring.refreshToken, "expired refresh token");

  // Revoked: the whole family.
  const live = await obtainTokens(c);
  await c.tokens.revoke({ ...DEFAULT, token: live.refreshToken, client: webBasic });
  await assertInactive(t, c, live.refreshToken, "revoked refresh token");
  await assertInactive(t, c, live.accessToken, "access token of a revoked grant");
});

test("another project's tokens, garbage and empty-looking strings are inactive", async (t) => {
  const c = await standardCore(t);
  await seedOtherProject(c);
  const { code } = await obtainCode(c, { authorize: { ...OTHER, scope: READ } });
  const foreign = await c.tokens.token(exchangeRequest(code, { ...OTHER }));
  // Active at its own project, for the same client id there.
  t.true((await c.tokens.introspect({ ...OTHER, token: foreign.accessToken, client: webBasic })).active);
  t.true((await c.tokens.introspect({ ...OTHER, token: foreign.refreshToken, client: webBasic })).active);
  await assertInactive(t, c, foreign.accessToken, "other project's access token");
  await assertInactive(t, c, foreign.refreshToken, "other project's refresh token");
  await assertInactive(t, c, foreign.refreshToken, "other project's refresh token (hint)", "refresh_token");

  for (const garbage of ["garbage", " ", "  \t", ".", "..", "a.b.c", "null", "0", "eyJhbGciOiJub25lIn0.e30.", "\u0000"]) {
    await assertInactive(t, c, garbage, JSON.stringify(garbage));
  }
});

test("an unsupported token_type_hint is unsupported_token_type", async (t) => {
  const c = await standardCore(t);
  const res = await obtainTokens(c);
  for (const hint of ["id_token", "bearer", "ACCESS_TOKEN", "refresh-token"]) {
    await expectOAuthError(t, introspect(c, res.accessToken, { tokenTypeHint: hint }), {
      error: "unsupported_token_type",
      code: Code.InvalidArgument,
    });
  }
});

test("introspection refuses public clients, wrong secrets and unknown clients with invalid_client, and a missing token with invalid_request", async (t) => {
  const c = await standardCore(t);
  const res = await obtainTokens(c);
  const spa = await spaTokens(c);
  await expectOAuthError(t, introspect(c, spa.accessToken, { client: { clientId: SPA.id } }), { error: "invalid_client" });
  await expectOAuthError(t, introspect(c, res.accessToken, { client: { basic: { clientId: WEB.id, clientSecret: "wrong" } } }), {
    error: "invalid_client",
  });
  await expectOAuthError(t, introspect(c, res.accessToken, { client: { clientId: WEB.id, clientSecret: "wrong" } }), {
    error: "invalid_client",
  });
  await expectOAuthError(t, introspect(c, res.accessToken, { client: { clientId: WEB.id } }), { error: "invalid_client" });
  await expectOAuthError(t, introspect(c, res.accessToken, { client: { basic: { clientId: "nobody", clientSecret: "x" } } }), {
    error: "invalid_client",
  });
  await expectOAuthError(t, introspect(c, res.accessToken, { client: {} }), { error: "invalid_client" });
  await expectOAuthError(t, c.tokens.introspect({ ...DEFAULT, token: res.accessToken }), { error: "invalid_client" });
  await expectOAuthError(t, introspect(c, ""), { error: "invalid_request" });
});

// ---------------------------------------------------------------- Revoke

test("revoking a refresh token revokes its grant at once: access tokens REVOKED, introspection inactive, refresh invalid_grant", async (t) => {
  const c = await standardCore(t);
  const first = await obtainTokens(c);
  c.clock.advance(5);
  const second = await c.tokens.token(refreshRequest(first.refreshToken));
  await c.tokens.revoke({ ...DEFAULT, token: second.refreshToken, tokenTypeHint: "refresh_token", client: webBasic });

  for (const access of [first.accessToken, second.accessToken]) {
    const v = await c.tokens.verifyToken({ token: access });
    t.false(v.active);
    t.is(v.failure, TokenFailure.REVOKED);
    await assertInactive(t, c, access, "access token of the revoked grant");
  }
  await assertInactive(t, c, second.refreshToken, "revoked refresh token");
  await expectOAuthError(t, c.tokens.token(refreshRequest(second.refreshToken)), { error: "invalid_grant" });
});

test("revoking an access token revokes its grant: the refresh token stops too", async (t) => {
  const c = await standardCore(t);
  const res = await obtainTokens(c);
  const other = await obtainTokens(c);
  for (const hint of ["", "access_token"]) {
    const r = hint === "" ? res : other;
    await c.tokens.revoke({ ...DEFAULT, token: r.accessToken, tokenTypeHint: hint, client: webPost });
    const v = await c.tokens.verifyToken({ token: r.accessToken });
    t.false(v.active);
    t.is(v.failure, TokenFailure.REVOKED);
    await assertInactive(t, c, r.refreshToken, `refresh token (hint "${hint}")`);
    await expectOAuthError(t, c.tokens.token(refreshRequest(r.refreshToken)), { error: "invalid_grant" });
  }
});

test("a refresh_token hint with an access token still revokes it", async (t) => {
  const c = await standardCore(t);
  const res = await obtainTokens(c);
  await c.tokens.revoke({ ...DEFAULT, token: res.accessToken, tokenTypeHint: "refresh_token", client: webBasic });
  t.is((await c.tokens.verifyToken({ token: res.accessToken })).failure, TokenFailure.REVOKED);
});

test("a public client revokes its own refresh token with its client_id only", async (t) => {
  const c = await standardCore(t);
  const res = await spaTokens(c);
  t.truthy(res.refreshToken);
  t.true((await c.tokens.verifyToken({ token: res.accessToken })).active);
  await c.tokens.revoke({ ...DEFAULT, token: res.refreshToken, client: { clientId: SPA.id } });
  t.is((await c.tokens.verifyToken({ token: res.accessToken })).failure, TokenFailure.REVOKED);
  await expectOAuthError(
    t,
    c.tokens.token({ ...DEFAULT, grantType: "refresh_token", refreshToken: res.refreshToken, clientId: SPA.id }),
    { error: "invalid_grant" },
  );
  // With a secret, a public client does not authenticate.
  const again = await spaTokens(c);
  await expectOAuthError(t, c.tokens.revoke({ ...DEFAULT, token: again.refreshToken, client: { clientId: SPA.id, clientSecret: "x" } }), {
    error: "invalid_client",
  });
  t.true((await c.tokens.verifyToken({ token: again.accessToken })).active);
});

test("revoking another client's token is unauthorized_client and revokes nothing", async (t) => {
  const c = await standardCore(t);
  const res = await obtainTokens(c);
  const spa = await spaTokens(c);
  const attempts: [string, object, string][] = [
    [res.refreshToken, web2Basic, ""],
    [res.refreshToken, web2Basic, "access_token"],
    [res.accessToken, web2Basic, ""],
    [res.accessToken, web2Basic, "refresh_token"],
    [res.refreshToken, { clientId: SPA.id }, ""],
    [res.accessToken, { clientId: SPA.id }, ""],
    [spa.refreshToken, webBasic, ""],
    [spa.accessToken, webBasic, "access_token"],
  ];
  for (const [token, client, hint] of attempts) {
    await expectOAuthError(t, c.tokens.revoke({ ...DEFAULT, token, tokenTypeHint: hint, client }), {
      error: "unauthorized_client",
      code: Code.PermissionDenied,
    });
  }
  t.true((await c.tokens.verifyToken({ token: res.accessToken })).active, "WEB's grant untouched");
  t.true((await c.tokens.verifyToken({ token: spa.accessToken })).active, "SPA's grant untouched");
  t.true((await introspect(c, res.refreshToken)).active);
  const refreshed = await c.tokens.token(refreshRequest(res.refreshToken));
  t.truthy(refreshed.accessToken);
});

test("revoking an unknown, garbage, expired or already revoked token succeeds without error", async (t) => {
  const c = await standardCore(t);
  for (const token of ["unknown-token", "a.b.c", " ", "eyJhbGciOiJub25lIn0.e30."]) {
    const answer = await c.tokens.revoke({ ...DEFAULT, token, client: webBasic });
    t.is(answer.$typeName, "iam.v1.RevokeResponse", JSON.stringify(token));
  }
  const res = await obtainTokens(c);
  await c.tokens.revoke({ ...DEFAULT, token: res.refreshToken, client: webBasic });
  await t.notThrowsAsync(c.tokens.revoke({ ...DEFAULT, token: res.refreshToken, client: webBasic }), "already revoked");
  await t.notThrowsAsync(c.tokens.revoke({ ...DEFAULT, token: res.accessToken, client: webBasic }), "already revoked access token");
  const expiring = await obtainTokens(c);
  c.clock.advance(WEB.accessTokenTtl + 1);
  await t.notThrowsAsync(c.tokens.revoke({ ...DEFAULT, token: expiring.accessToken, client: webBasic }), "expired access token");
});

test("revoking another project's token at this project's endpoint succeeds and revokes nothing", async (t) => {
  const c = await standardCore(t);
  await seedOtherProject(c);
  const { code } = await obtainCode(c, { authorize: { ...OTHER, scope: READ } });
  const foreign = await c.tokens.token(exchangeRequest(code, { ...OTHER }));
  // The same client id and secret exist in both projects.
  await t.notThrowsAsync(c.tokens.revoke({ ...DEFAULT, token: foreign.refreshToken, client: webBasic }));
  await t.notThrowsAsync(c.tokens.revoke({ ...DEFAULT, token: foreign.accessToken, client: webBasic }));
  t.true((await c.tokens.verifyToken({ token: foreign.accessToken })).active);
  t.true((await c.tokens.introspect({ ...OTHER, token: foreign.refreshToken, client: webBasic })).active);
});

test("revocation: an unsupported hint is unsupported_token_type, a missing token invalid_request, bad credentials invalid_client", async (t) => {
  const c = await standardCore(t);
  const res = await obtainTokens(c);
  await expectOAuthError(t, c.tokens.revoke({ ...DEFAULT, token: res.refreshToken, tokenTypeHint: "id_token", client: webBasic }), {
    error: "unsupported_token_type",
    code: Code.InvalidArgument,
  });
  await expectOAuthError(t, c.tokens.revoke({ ...DEFAULT, token: "", client: webBasic }), { error: "invalid_request" });
  await expectOAuthError(
    t,
    c.tokens.revoke({ ...DEFAULT, token: res.refreshToken, client: { basic: { clientId: WEB.id, clientSecret: "wrong" } } }),
    { error: "invalid_client" },
  );
  await expectOAuthError(t, c.tokens.revoke({ ...DEFAULT, token: res.refreshToken, client: { clientId: WEB.id } }), {
    error: "invalid_client",
  });
  t.true((await c.tokens.verifyToken({ token: res.accessToken })).active, "nothing revoked by refused requests");
});
