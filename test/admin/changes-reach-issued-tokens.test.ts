/**
 * An administrative change reaches the tokens already issued: a role taken
 * away ends the rights its token carried, a new password ends every token of
 * the old one.
 */
import { Code } from "@connectrpc/connect";
import test from "ava";
import { TokenFailure } from "../../gen/iam/v1/token_pb.js";
import { ACME, ALICE, clientToken, expectCode, fullTenant, startAdmin, userTokens, verify } from "./rpc-support.js";

test("administration rights end when the role is taken away, even for the token already held", async (t) => {
  const c = await startAdmin(t);
  const app = await fullTenant(c);
  await c.admin.assignRole({ ...ACME, roleId: "project-admin", subject: { case: "clientId", value: app.id } }, c.auth);
  const { accessToken } = await clientToken(c, ACME, app.id, app.secret);
  const asProjectAdmin = { headers: { authorization: `Bearer ${accessToken}` } };
  await c.admin.listUsers({ ...ACME }, asProjectAdmin);

  await c.admin.unassignRole({ ...ACME, roleId: "project-admin", subject: { case: "clientId", value: app.id } }, c.auth);
  await expectCode(t, c.admin.listUsers({ ...ACME }, asProjectAdmin), Code.PermissionDenied, "the same token after UnassignRole");
});

test("setting a user's password revokes every token of the old one", async (t) => {
  const c = await startAdmin(t);
  const app = await fullTenant(c);
  const before = await userTokens(c, app, ALICE);
  await c.admin.setUserPassword({ ...ACME, userId: ALICE.id, password: "a brand new password" }, c.auth);
  t.is((await verify(c, before.accessToken)).failure, TokenFailure.REVOKED);
  await t.throwsAsync(c.tokens.token({ ...ACME, grantType: "refresh_token", refreshToken: before.refreshToken, basic: { clientId: app.id, clientSecret: app.secret } }));
});
