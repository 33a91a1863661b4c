/**
 * What AdminService refuses whatever the caller may do: a client and a user
 * of one project sharing an id, display names with C1 controls or
 * bidirectional overrides, and more than 10 keys of one algorithm verifying
 * at once.
 */
import { Code } from "@connectrpc/connect";
import test from "ava";
import { ClientType } from "../../gen/iam/v1/admin_pb.js";
import { ACME, ALICE, createApp, expectCode, fullTenant, globalAdminToken, startAdmin } from "./rpc-support.js";

test("a client and a user of one project cannot share an id (RFC 9068 §5: their tokens would carry the same sub)", async (t) => {
  const c = await startAdmin(t);
  await fullTenant(c);
  await expectCode(t, createApp(c, ACME, { clientId: ALICE.id }), Code.AlreadyExists, "a client named like a user");
  await expectCode(t, c.admin.createUser({ ...ACME, userId: "web", password: "long enough password" }, c.auth), Code.AlreadyExists, "a user named like a client");
});

test("display names refuse C1 controls and bidirectional overrides", async (t) => {
  const c = await startAdmin(t);
  await fullTenant(c);
  for (const name of ["Pay\u202Elapyap", "a\u0085b", "x\u2066y"]) {
    await expectCode(
      t,
      c.admin.createClient({ ...ACME, clientId: `c${name.length}`, name, type: ClientType.PUBLIC, redirectUris: ["https://x.example/cb"] }, c.auth),
      Code.InvalidArgument,
      JSON.stringify(name),
    );
  }
});

test("a project may have at most 10 keys of one algorithm verifying at once; rotation beyond waits for retired keys to expire", async (t) => {
  const c = await startAdmin(t);
  await fullTenant(c);
  for (let i = 0; i < 9; i++) await c.admin.rotateSigningKey({ ...ACME }, c.auth);
  const algs = (await c.tokens.getJwks({ ...ACME })).keys.map((k) => k.alg);
  t.is(algs.filter((alg) => alg === "ES256").length, 10);
  t.is(algs.filter((alg) => alg === "RS256").length, 10);
  const refused = await expectCode(t, c.admin.rotateSigningKey({ ...ACME }, c.auth), Code.FailedPrecondition, "the eleventh key");
  t.is(refused?.rawMessage, "the project already has 10 keys of one algorithm verifying tokens; rotate again once retired keys have expired");
  t.is((await c.tokens.getJwks({ ...ACME })).keys.length, 20, "the refused rotation made no key");
  c.clock.advance(24 * 3600);
  const fresh = { headers: { authorization: `Bearer ${await globalAdminToken(c)}` } };
  const rotated = await c.admin.rotateSigningKey({ ...ACME }, fresh);
  const keys = (await c.tokens.getJwks({ ...ACME })).keys;
  t.deepEqual(
    keys.map((k) => [k.kid, k.alg]),
    [
      [rotated.kids[0], "ES256"],
      [rotated.kids[1], "RS256"],
      [rotated.retiredKids[0], "ES256"],
      [rotated.retiredKids[1], "RS256"],
    ],
    "the expired retired keys left; the new key and the one it retired of each algorithm remain",
  );
  t.is(rotated.kid, rotated.kids[0]!);
  t.is(rotated.retiredKid, rotated.retiredKids[0]!);
});
