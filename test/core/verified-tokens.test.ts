/**
 * The cache of verified access-token signatures (core/tokens/verified-tokens.ts)
 * must change nothing but speed: a token answered from it is still refused the
 * moment it is revoked, expires, loses its key, or is shown to another project.
 */
import test from "ava";
import { TokenFailure } from "../../gen/iam/v1/token_pb.js";
import { VerifiedTokens, type VerifiedSignature } from "../../core/tokens/verified-tokens.js";
import { DEFAULT } from "../helpers.js";
import { exchangeRequest, obtainCode, obtainTokens, OTHER, seedOtherProject, setup, WEB } from "./flow.js";

test("a token verified once is remembered, and its second verification gives the same answer", async (t) => {
  const c = await setup(t);
  const cache = c.core.deps.verifiedTokens;
  const { accessToken } = await obtainTokens(c);
  t.is(cache.size, 0);
  const first = await c.tokens.verifyToken({ token: accessToken });
  t.is(cache.size, 1);
  const second = await c.tokens.verifyToken({ token: accessToken });
  t.is(cache.size, 1);
  t.true(second.active);
  t.deepEqual(second, first);
});

test("a remembered token is REVOKED as soon as its grant is revoked, for VerifyToken and introspection", async (t) => {
  const c = await setup(t);
  const { code } = await obtainCode(c);
  const issued = await c.tokens.token(exchangeRequest(code));
  t.true((await c.tokens.verifyToken({ token: issued.accessToken })).active);
  const introspect = () =>
    c.tokens.introspect({ ...DEFAULT, token: issued.accessToken, client: { clientId: WEB.id, clientSecret: WEB.secret } });
  t.true((await introspect()).active);
  t.is(c.core.deps.verifiedTokens.size, 1);

  // The code replayed: the grant is revoked (RFC 6749 §4.1.2).
  await t.throwsAsync(c.tokens.token(exchangeRequest(code)));
  const after = await c.tokens.verifyToken({ token: issued.accessToken });
  t.false(after.active);
  t.is(after.failure, TokenFailure.REVOKED);
  t.false((await introspect()).active);
});

test("a remembered token is EXPIRED once its exp has passed, and is dropped from the cache", async (t) => {
  const c = await setup(t);
  const { accessToken } = await obtainTokens(c);
  t.true((await c.tokens.verifyToken({ token: accessToken })).active);
  c.clock.advance(WEB.accessTokenTtl - 1);
  t.true((await c.tokens.verifyToken({ token: accessToken })).active);
  c.clock.advance(1);
  const res = await c.tokens.verifyToken({ token: accessToken });
  t.false(res.active);
  t.is(res.failure, TokenFailure.EXPIRED);
  t.is(c.core.deps.verifiedTokens.size, 0);
});

test("a remembered token whose signing key is no longer trusted is INVALID", async (t) => {
  const c = await setup(t);
  const { accessToken } = await obtainTokens(c);
  t.true((await c.tokens.verifyToken({ token: accessToken })).active);
  // The key is withdrawn at once (as an operator would after a compromise):
  // retired with no verification period left, a new key made current.
  const db = (await import("better-sqlite3")).default(c.dbPath);
  db.prepare("UPDATE signing_keys SET retired_at = 1, expires_at = 1 WHERE organization_id = ? AND project_id = ?").run(DEFAULT.organization, DEFAULT.project);
  db.close();
  await c.core.deps.keys.create(DEFAULT);
  const res = await c.tokens.verifyToken({ token: accessToken });
  t.false(res.active);
  t.is(res.failure, TokenFailure.INVALID);
});

test("a remembered token of project A is INVALID where B's tokens are required", async (t) => {
  const c = await setup(t);
  await seedOtherProject(c);
  const { accessToken } = await obtainTokens(c);
  t.true((await c.tokens.verifyToken({ token: accessToken, ...DEFAULT })).active);
  const res = await c.tokens.verifyToken({ token: accessToken, ...OTHER });
  t.false(res.active);
  t.is(res.failure, TokenFailure.INVALID);
  // OTHER has its own web-app client, with the same id and secret.
  const introspected = await c.tokens.introspect({ ...OTHER, token: accessToken, client: { clientId: WEB.id, clientSecret: WEB.secret } });
  t.false(introspected.active);
});

test("a token differing from a remembered one by one character is verified afresh and refused", async (t) => {
  const c = await setup(t);
  const { accessToken } = await obtainTokens(c);
  t.true((await c.tokens.verifyToken({ token: accessToken })).active);
  const [header, payload, signature] = accessToken.split(".") as [string, string, string];
  const flipped = signature.startsWith("A") ? `B${signature.slice(1)}` : `A${signature.slice(1)}`;
  const res = await c.tokens.verifyToken({ token: `${header}.${payload}.${flipped}` });
  t.false(res.active);
  t.is(res.failure, TokenFailure.INVALID);
  t.is(c.core.deps.verifiedTokens.size, 1, "refused tokens are never remembered");
});

const entry = (expiresAt: number): VerifiedSignature => ({
  payload: { client_id: "c", exp: expiresAt },
  ref: DEFAULT,
  issuer: "https://iam.test",
  kid: "k",
  expiresAt,
});

test("the cache is bounded: past its limit the oldest token is forgotten", (t) => {
  const cache = new VerifiedTokens(3);
  for (const token of ["a", "b", "c", "d"]) cache.remember(token, entry(2_000));
  t.is(cache.size, 3);
  t.is(cache.get("a", 1_000), undefined);
  t.truthy(cache.get("b", 1_000));
  t.truthy(cache.get("d", 1_000));
});

test("an expired entry is never answered", (t) => {
  const cache = new VerifiedTokens(3);
  cache.remember("a", entry(1_000));
  t.truthy(cache.get("a", 999));
  t.is(cache.get("a", 1_000), undefined);
  t.is(cache.size, 0);
});
