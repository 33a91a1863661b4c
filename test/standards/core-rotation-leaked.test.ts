/**
 * A leaked signing key: RotateSigningKey with `retire_immediately`. An access
 * token is self-contained (RFC 9068), so what a leaked key signed cannot be
 * recalled token by token: the key itself leaves the JWKS and stops
 * verifying at once, with every key retired before it (any may be the one
 * that leaked). Genuine and forged tokens of those keys are refused by
 * VerifyToken, introspection and UserInfo; refresh tokens, which no key
 * signs, get new tokens under the new key.
 */
import { createPrivateKey } from "node:crypto";
import { Code, createClient, type CallOptions, type Client } from "@connectrpc/connect";
import test from "ava";
import { decodeJwt } from "jose";
import { AdminService, SigningKeyState } from "../../gen/iam/v1/admin_pb.js";
import { AuditAction, AuditService } from "../../gen/iam/v1/audit_pb.js";
import { TokenFailure } from "../../gen/iam/v1/token_pb.js";
import { signJwt } from "../../core/tokens/keys.js";
import { DEFAULT, type TestCore } from "../helpers.js";
import { ALICE, expectOAuthError, nowSeconds, obtainTokens, READ, refreshRequest, WEB } from "../core/flow.js";
import { globalAdminToken } from "../admin/rpc-support.js";
import { headerOf, standardCore, verifyIdToken } from "./core-support.js";

async function adminOf(c: TestCore): Promise<{ admin: Client<typeof AdminService>; auth: CallOptions }> {
  const token = await globalAdminToken(c);
  return { admin: createClient(AdminService, c.transport), auth: { headers: { authorization: `Bearer ${token}` } } };
}

const jwksKids = async (c: TestCore) => (await c.tokens.getJwks(DEFAULT)).keys.map((k) => k.kid).sort();

/** What a thief holding the private key of `kid` can make: any claims, a long life. */
async function forged(c: TestCore, genuine: string, kid: string): Promise<string> {
  const record = (await c.core.deps.store.listSigningKeys(DEFAULT)).find((k) => k.kid === kid)!;
  const payload = { ...decodeJwt(genuine), exp: nowSeconds(c) + 100_000 };
  return signJwt({ alg: "ES256", typ: "at+jwt", kid }, payload, createPrivateKey({ key: JSON.parse(record.privateJwk), format: "jwk" }));
}

test("a rotation with retire_immediately refuses at once every token of the keys it replaces and of the keys retired before, and takes them out of the JWKS", async (t) => {
  const c = await standardCore(t);
  const { admin, auth } = await adminOf(c);
  const web = { basic: { clientId: WEB.id, clientSecret: WEB.secret } };

  // An earlier, ordinary rotation: its retired keys still verify (their grace).
  const older = await obtainTokens(c, { authorize: { scope: `openid ${READ}` } });
  const first = await admin.rotateSigningKey(DEFAULT, auth);
  c.clock.advance(10);
  const before = await obtainTokens(c, { authorize: { scope: `openid ${READ}` } });
  const leakedKid = headerOf(before.accessToken).kid as string;
  const forgery = await forged(c, before.accessToken, leakedKid);
  for (const token of [older.accessToken, before.accessToken, forgery]) t.true((await c.tokens.verifyToken({ token })).active);
  t.is((await jwksKids(c)).length, 4);

  const now = nowSeconds(c);
  const rotated = await admin.rotateSigningKey({ ...DEFAULT, retireImmediately: true }, auth);
  t.is(rotated.retiredKeyExpiresAt, BigInt(now));
  t.deepEqual(rotated.retiredKids, [...first.kids, ...first.retiredKids], "the keys replaced, then the keys retired before");
  t.deepEqual(await jwksKids(c), [...rotated.kids].sort(), "only the new keys are published");

  for (const [name, token] of [["older", older.accessToken], ["before", before.accessToken], ["forged", forgery]] as const) {
    const verified = await c.tokens.verifyToken({ token });
    t.false(verified.active, name);
    t.is(verified.failure, TokenFailure.INVALID, name);
    t.false((await c.tokens.introspect({ ...DEFAULT, token, client: web })).active, name);
    await expectOAuthError(t, c.tokens.userInfo({ ...DEFAULT, token }), { error: "invalid_token", code: Code.Unauthenticated });
  }
  await t.throwsAsync(verifyIdToken(c, before.idToken, WEB.id), undefined, "no key left for the ID token");

  // The client refreshes: its refresh token is no signature, and its new tokens are the new key's.
  const refreshed = await c.tokens.token(refreshRequest(before.refreshToken));
  t.is(headerOf(refreshed.accessToken).kid, rotated.kid);
  t.true((await c.tokens.verifyToken({ token: refreshed.accessToken })).active);
  t.is((await c.tokens.userInfo({ ...DEFAULT, token: refreshed.accessToken })).sub, ALICE.id);

  // The administrator's own token was one of the old key's: refused too, as a forged one would be.
  const refused = await t.throwsAsync(admin.listSigningKeys(DEFAULT, auth));
  t.is((refused as { code?: Code }).code, Code.Unauthenticated);
  // What administration sees: every old key expired; the event names the keys stopped.
  const fresh = { headers: { authorization: `Bearer ${await globalAdminToken(c)}` } };
  const states = (await admin.listSigningKeys(DEFAULT, fresh)).keys;
  t.deepEqual(
    states.filter((k) => k.state !== SigningKeyState.EXPIRED).map((k) => k.kid).sort(),
    [...rotated.kids].sort(),
  );
  const events = (await createClient(AuditService, c.transport).listEvents({ ...DEFAULT, pageSize: 1000 }, fresh)).events;
  const event = events.filter((e) => e.action === AuditAction.SIGNING_KEY_ROTATED).at(-1)!;
  t.deepEqual(JSON.parse(event.changes.find((ch) => ch.field === "retired_immediately")!.after), rotated.retiredKids);
});

test("an ordinary rotation keeps the old keys published and verifying", async (t) => {
  const c = await standardCore(t);
  const { admin, auth } = await adminOf(c);
  const before = await obtainTokens(c);
  const rotated = await admin.rotateSigningKey(DEFAULT, auth);
  t.true(rotated.retiredKeyExpiresAt > BigInt(nowSeconds(c)));
  t.true((await c.tokens.verifyToken({ token: before.accessToken })).active);
  t.is((await jwksKids(c)).length, 4);
});
