/**
 * Signing-key rotation end to end (AdminService.RotateSigningKey, the JWKS,
 * verification of old and new tokens, the purge, the `iam key rotate`
 * command) and the refresh-token reuse grace window (IAM_REFRESH_TOKEN_GRACE).
 */
import { createPrivateKey } from "node:crypto";
import { join } from "node:path";
import { Code, createClient, type CallOptions, type Client } from "@connectrpc/connect";
import type { ExecutionContext } from "ava";
import test from "ava";
import { decodeJwt } from "jose";
import { AdminService } from "../../gen/iam/v1/admin_pb.js";
import { TokenFailure } from "../../gen/iam/v1/token_pb.js";
import { loadConfig } from "../../core/server/config.js";
import { signJwt } from "../../core/tokens/keys.js";
import type { ProjectRef } from "../../core/store/types.js";
import { ADMIN_CLIENT_SECRET, DEFAULT, startTestCore, TestClock, tempDir, type TestCore } from "../helpers.js";
import { iam } from "../cli/_support.js";
import { ALICE, expectOAuthError, nowSeconds, obtainTokens, READ, refreshRequest, WEB, WEB2 } from "../core/flow.js";
import { clientToken, createApp, createTenant, expectCode, globalAdminToken, startAdmin, type AdminTest } from "../admin/rpc-support.js";
import { headerOf, m2mToken, standardCore, verifyIdToken } from "./core-support.js";

async function adminOf(c: TestCore): Promise<{ admin: Client<typeof AdminService>; auth: CallOptions }> {
  const token = await globalAdminToken(c);
  return { admin: createClient(AdminService, c.transport), auth: { headers: { authorization: `Bearer ${token}` } } };
}

/** The kids of the project's JWKS of one algorithm (ES256: the access tokens' keys), in the JWKS's order. */
const kids = async (c: TestCore, ref: ProjectRef = DEFAULT, alg: "ES256" | "RS256" = "ES256") =>
  (await c.tokens.getJwks(ref)).keys.filter((k) => k.alg === alg).map((k) => k.kid);

/** Re-signs an access token's claims with the given private JWK and kid, and a later exp. */
function resign(accessToken: string, privateJwk: string, kid: string, exp: number): string {
  const payload = { ...decodeJwt(accessToken), exp };
  return signJwt({ alg: "ES256", typ: "at+jwt", kid }, payload, createPrivateKey({ key: JSON.parse(privateJwk), format: "jwk" }));
}

// ---------------------------------------------------------------- key rotation

test("key rotation: old tokens keep verifying, new ones carry the new kid, the JWKS lists new then old until the retired key expires", async (t) => {
  const c = await standardCore(t);
  const { admin, auth } = await adminOf(c);
  const [oldKid] = await kids(c);
  const [oldRsaKid] = await kids(c, DEFAULT, "RS256");
  t.is((await kids(c)).length, 1);
  t.is((await kids(c, DEFAULT, "RS256")).length, 1);
  const oldRecord = (await c.core.deps.store.listSigningKeys(DEFAULT)).find((k) => k.kid === oldKid)!;

  const before = await obtainTokens(c, { authorize: { scope: `openid ${READ}` } });
  t.is(headerOf(before.accessToken).kid, oldKid);
  t.is(headerOf(before.idToken).kid, oldRsaKid, "the ID token: RS256, the client registered no algorithm");

  c.clock.advance(10);
  const rotatedAt = nowSeconds(c);
  const rotated = await admin.rotateSigningKey(DEFAULT, auth);
  t.not(rotated.kid, oldKid);
  t.is(rotated.retiredKid, oldKid ?? "");
  // WEB has the longest access-token lifetime of the project (900 s > 600 s): 900 + 60 s of skew.
  t.is(rotated.retiredKeyExpiresAt, BigInt(rotatedAt + Math.max(WEB.accessTokenTtl, 600) + 60));
  t.deepEqual(await kids(c), [rotated.kid, oldKid], "JWKS: new key first, then the retired one");
  t.deepEqual(await kids(c, DEFAULT, "RS256"), [rotated.kids[1], oldRsaKid], "the RS256 key rotated with it");

  // Tokens signed before the rotation still verify everywhere.
  const v = await c.tokens.verifyToken({ token: before.accessToken });
  t.true(v.active);
  t.true((await c.tokens.introspect({ ...DEFAULT, token: before.accessToken, client: { basic: { clientId: WEB.id, clientSecret: WEB.secret } } })).active);
  t.is((await c.tokens.userInfo({ ...DEFAULT, token: before.accessToken })).sub, ALICE.id);
  t.is((await verifyIdToken(c, before.idToken, WEB.id)).payload.sub, ALICE.id, "the old ID token verifies with the JWKS");
  // The old admin token drives the admin API still.
  await t.notThrowsAsync(admin.getProject(DEFAULT, auth));

  // New tokens are signed with the new key.
  const refreshed = await c.tokens.token(refreshRequest(before.refreshToken));
  t.is(headerOf(refreshed.accessToken).kid, rotated.kid);
  t.is(headerOf(refreshed.idToken).kid, rotated.kids[1]);
  t.true((await c.tokens.verifyToken({ token: refreshed.accessToken })).active);
  t.is(headerOf((await m2mToken(c)).accessToken).kid, rotated.kid);
  t.is(headerOf((await obtainTokens(c)).accessToken).kid, rotated.kid);

  // A token of the old key that has not expired yet (crafted: real ones live at most 900 s).
  const crafted = resign(before.accessToken, oldRecord.privateJwk, oldKid!, rotatedAt + 100_000);
  t.true((await c.tokens.verifyToken({ token: crafted })).active, "the retired key verifies until it expires");

  // Up to the retired key's expiry: still published.
  const expiresAt = Number(rotated.retiredKeyExpiresAt);
  c.clock.advance(expiresAt - nowSeconds(c) - 1);
  t.deepEqual(await kids(c), [rotated.kid, oldKid]);
  t.true((await c.tokens.verifyToken({ token: crafted })).active);

  // Past it: gone from the JWKS, and its tokens no longer verify.
  c.clock.advance(2);
  t.deepEqual(await kids(c), [rotated.kid]);
  t.deepEqual(await kids(c, DEFAULT, "RS256"), [rotated.kids[1]]);
  const after = await c.tokens.verifyToken({ token: crafted });
  t.false(after.active);
  t.is(after.failure, TokenFailure.INVALID);
  t.false((await c.tokens.verifyToken({ token: before.accessToken })).active);
  await t.throwsAsync(verifyIdToken(c, before.idToken, WEB.id), undefined, "no key left for the old ID token");

  // The purge deletes the retired keys' rows; the current ones stay.
  t.is((await c.core.deps.store.listSigningKeys(DEFAULT)).length, 4, "kept until purged");
  const purged = await c.core.deps.store.purgeExpired(nowSeconds(c));
  t.is(purged.signing_keys, 2);
  t.deepEqual((await c.core.deps.store.listSigningKeys(DEFAULT)).map((k) => k.kid).sort(), [...rotated.kids].sort());
  t.deepEqual(await kids(c), [rotated.kid]);
  const fresh = await obtainTokens(c);
  t.true((await c.tokens.verifyToken({ token: fresh.accessToken })).active, "signing goes on after the purge");
});

test("key rotation keeps the retired key at least 600 s (plus 60 s) when every client's tokens are shorter", async (t) => {
  const c = await startAdmin(t);
  const ref: ProjectRef = { organization: "acme", project: "shop" };
  await createTenant(c, ref);
  await createApp(c, ref, { accessTokenTtl: 120n });
  const now = nowSeconds(c);
  const rotated = await c.admin.rotateSigningKey(ref, c.auth);
  t.is(rotated.retiredKeyExpiresAt, BigInt(now + 600 + 60));
  t.is((await kids(c, ref)).length, 2);
  // Only that project's JWKS changed.
  t.is((await kids(c, DEFAULT)).length, 1);
});

async function projectAdminToken(c: AdminTest, ref: ProjectRef): Promise<CallOptions> {
  const app = await createApp(c, ref, { clientId: "ops", grantTypes: ["client_credentials"] });
  await c.admin.assignRole({ ...ref, roleId: "project-admin", subject: { case: "clientId", value: app.id } }, c.auth);
  const token = await clientToken(c, ref, app.id, app.secret);
  if (!token.scope.split(" ").includes("iam.project.admin")) throw new Error(`not a project admin token: ${token.scope}`);
  return { headers: { authorization: `Bearer ${token.accessToken}` } };
}

test("a project admin may rotate their own project's key; another project's admin is PermissionDenied", async (t: ExecutionContext) => {
  const c = await startAdmin(t);
  const acme: ProjectRef = { organization: "acme", project: "shop" };
  const globex: ProjectRef = { organization: "globex", project: "b" };
  await createTenant(c, acme);
  await createTenant(c, globex);
  const acmeAdmin = await projectAdminToken(c, acme);
  const globexAdmin = await projectAdminToken(c, globex);
  const [acmeKid] = await kids(c, acme);

  const rotated = await c.admin.rotateSigningKey(acme, acmeAdmin);
  t.is(rotated.retiredKid, acmeKid ?? "");
  t.deepEqual(await kids(c, acme), [rotated.kid, acmeKid]);

  const acmeKids = await kids(c, acme);
  const globexKids = await kids(c, globex);
  const adminsKids = await kids(c, DEFAULT);
  await expectCode(t, c.admin.rotateSigningKey(acme, globexAdmin), Code.PermissionDenied, "globex admin on acme");
  await expectCode(t, c.admin.rotateSigningKey(globex, acmeAdmin), Code.PermissionDenied, "acme admin on globex");
  await expectCode(t, c.admin.rotateSigningKey(DEFAULT, acmeAdmin), Code.PermissionDenied, "acme admin on iam-admins");
  await expectCode(t, c.admin.rotateSigningKey(acme), Code.Unauthenticated, "no token");
  t.deepEqual(await kids(c, acme), acmeKids, "refused rotations change nothing");
  t.deepEqual(await kids(c, globex), globexKids);
  t.deepEqual(await kids(c, DEFAULT), adminsKids);

  // The global admin may rotate any project; an unknown project is NotFound.
  await t.notThrowsAsync(c.admin.rotateSigningKey(globex, c.auth));
  await expectCode(t, c.admin.rotateSigningKey({ organization: "acme", project: "nope" }, c.auth), Code.NotFound, "unknown project");
});

/** A TestClock at the real time: the `iam` command stamps keys with it. */
function realClock(): TestClock {
  const clock = new TestClock();
  clock.ms = Date.now();
  return clock;
}

const adminClientToken = (c: TestCore) =>
  c.tokens.token({ ...DEFAULT, grantType: "client_credentials", basic: { clientId: "admin-client", clientSecret: ADMIN_CLIENT_SECRET } });

test("`iam key rotate ORG PROJECT` prints the new kid and the JWKS then has two keys", async (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const db = join(dir, "iam.db");
  // Create the database (default tenant) and learn its key.
  const first = await startTestCore({ dbPath: db, clock: realClock() });
  const [oldKid] = await kids(first);
  const before = await adminClientToken(first);
  await first.close();

  const result = iam(db, ["key", "rotate", "iam-admins", "iam-admins"]);
  t.is(result.code, 0, result.stderr);

  const after = await startTestCore({ dbPath: db, clock: realClock() });
  t.teardown(() => after.close());
  const now = await kids(after);
  t.is(now.length, 2);
  t.is(now[1], oldKid, "the old key stays, second");
  t.not(now[0], oldKid);
  t.true(result.stdout.includes(now[0]!), `stdout names the new kid: ${result.stdout}`);
  t.true(result.stdout.includes(oldKid!), "and the retired one");
  // New tokens are signed with the new key; the old token still verifies.
  t.is(headerOf((await adminClientToken(after)).accessToken).kid, now[0]);
  t.true((await after.tokens.verifyToken({ token: before.accessToken })).active);
});

test("a rotation by the `iam` command reaches a running core at once: its next token and JWKS (README)", async (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const db = join(dir, "iam.db");
  const c = await startTestCore({ dbPath: db, clock: realClock() });
  t.teardown(() => c.close());
  const [oldKid] = await kids(c);
  const before = await adminClientToken(c);
  t.is(headerOf(before.accessToken).kid, oldKid);

  const result = iam(db, ["key", "rotate", "iam-admins", "iam-admins"]);
  t.is(result.code, 0, result.stderr);

  // No clock moves: the change epoch the rotation moved is what tells the core.
  const now = await kids(c);
  t.is(now.length, 2, "the running core publishes both keys");
  t.is(now[1], oldKid);
  t.true(result.stdout.includes(now[0]!));
  t.is(headerOf((await adminClientToken(c)).accessToken).kid, now[0], "and signs with the new one");
  t.true((await c.tokens.verifyToken({ token: before.accessToken })).active, "the old token still verifies");
});

// ---------------------------------------------------------------- refresh grace window

test("the grace window defaults to 5 s and is configured by IAM_REFRESH_TOKEN_GRACE", (t) => {
  t.is(loadConfig({}, {}).refreshTokenGrace, 5);
  t.is(loadConfig({ IAM_REFRESH_TOKEN_GRACE: "0" }, {}).refreshTokenGrace, 0);
  t.is(loadConfig({ IAM_REFRESH_TOKEN_GRACE: "12" }, {}).refreshTokenGrace, 12);
  t.throws(() => loadConfig({ IAM_REFRESH_TOKEN_GRACE: "-1" }, {}));
});

test("grace 5 s: its client reusing a just-rotated refresh token at +0 s and +4 s gets fresh tokens and the family stays", async (t) => {
  const c = await standardCore(t, { refreshTokenGrace: 5 });
  const first = await obtainTokens(c);
  c.clock.advance(60);
  const second = await c.tokens.token(refreshRequest(first.refreshToken));

  // +0 s: a second tab refreshing with the same token.
  const third = await c.tokens.token(refreshRequest(first.refreshToken));
  t.truthy(third.accessToken);
  t.truthy(third.refreshToken);
  t.not(third.refreshToken, second.refreshToken);
  t.not(third.accessToken, second.accessToken);
  t.is(decodeJwt(third.accessToken).gid, decodeJwt(first.accessToken).gid, "same family");

  // +4 s: still within the window.
  c.clock.advance(4);
  const fourth = await c.tokens.token(refreshRequest(first.refreshToken));
  t.truthy(fourth.refreshToken);
  t.is(decodeJwt(fourth.accessToken).gid, decodeJwt(first.accessToken).gid);

  for (const [name, tokens] of [["first", first], ["second", second], ["third", third], ["fourth", fourth]] as const) {
    t.true((await c.tokens.verifyToken({ token: tokens.accessToken })).active, `${name} access token still verifies`);
  }
  // The tokens answered in the window are siblings: the first one used supersedes the others, so the
  // family never splits into chains that each evade reuse detection.
  const next = await c.tokens.token(refreshRequest(second.refreshToken));
  t.true((await c.tokens.verifyToken({ token: next.accessToken })).active);
  await expectOAuthError(t, c.tokens.token(refreshRequest(fourth.refreshToken)), { error: "invalid_grant" });
  const after = await c.tokens.verifyToken({ token: next.accessToken });
  t.false(after.active, "presenting a superseded sibling is reuse: the family is revoked");
  t.is(after.failure, TokenFailure.REVOKED);
});

for (const late of [5, 6, 60]) {
  test(`grace 5 s: reuse at +${late} s revokes the whole family`, async (t) => {
    const c = await standardCore(t, { refreshTokenGrace: 5 });
    const first = await obtainTokens(c);
    const second = await c.tokens.token(refreshRequest(first.refreshToken));
    c.clock.advance(late);
    await expectOAuthError(t, c.tokens.token(refreshRequest(first.refreshToken)), { error: "invalid_grant" });
    for (const access of [first.accessToken, second.accessToken]) {
      const v = await c.tokens.verifyToken({ token: access });
      t.false(v.active);
      t.is(v.failure, TokenFailure.REVOKED);
    }
    await expectOAuthError(t, c.tokens.token(refreshRequest(second.refreshToken)), { error: "invalid_grant" });
  });
}

test("grace 5 s: a reuse at +4 s then again at +5 s: the window counts from the rotation, and the late reuse revokes", async (t) => {
  const c = await standardCore(t, { refreshTokenGrace: 5 });
  const first = await obtainTokens(c);
  const second = await c.tokens.token(refreshRequest(first.refreshToken));
  c.clock.advance(4);
  const third = await c.tokens.token(refreshRequest(first.refreshToken));
  c.clock.advance(1);
  await expectOAuthError(t, c.tokens.token(refreshRequest(first.refreshToken)), { error: "invalid_grant" });
  for (const tokens of [second, third]) {
    t.is((await c.tokens.verifyToken({ token: tokens.accessToken })).failure, TokenFailure.REVOKED);
    await expectOAuthError(t, c.tokens.token(refreshRequest(tokens.refreshToken)), { error: "invalid_grant" });
  }
});

test("grace 5 s: another client presenting the just-rotated token is refused with invalid_grant and revokes nothing", async (t) => {
  const c = await standardCore(t, { refreshTokenGrace: 5 });
  const first = await obtainTokens(c);
  const second = await c.tokens.token(refreshRequest(first.refreshToken));
  for (const advance of [0, 2]) {
    c.clock.advance(advance);
    await expectOAuthError(
      t,
      c.tokens.token(refreshRequest(first.refreshToken, { basic: { clientId: WEB2.id, clientSecret: WEB2.secret } })),
      { error: "invalid_grant" },
    );
  }
  t.true((await c.tokens.verifyToken({ token: first.accessToken })).active);
  t.true((await c.tokens.verifyToken({ token: second.accessToken })).active);
  // Its own client, still within the window, gets fresh tokens.
  const own = await c.tokens.token(refreshRequest(first.refreshToken));
  t.true((await c.tokens.verifyToken({ token: own.accessToken })).active);
  await t.notThrowsAsync(c.tokens.token(refreshRequest(second.refreshToken)));
});

test("grace 0: reusing a rotated refresh token at +0 s revokes the family", async (t) => {
  const c = await standardCore(t, { refreshTokenGrace: 0 });
  const first = await obtainTokens(c);
  const second = await c.tokens.token(refreshRequest(first.refreshToken));
  await expectOAuthError(t, c.tokens.token(refreshRequest(first.refreshToken)), { error: "invalid_grant" });
  for (const access of [first.accessToken, second.accessToken]) {
    t.is((await c.tokens.verifyToken({ token: access })).failure, TokenFailure.REVOKED);
  }
  await expectOAuthError(t, c.tokens.token(refreshRequest(second.refreshToken)), { error: "invalid_grant" });
});
