/**
 * A permission taken away from a user's role narrows what is granted next:
 * refreshed access tokens and a code exchanged after consent no longer carry it.
 */
import test from "ava";
import Database from "better-sqlite3";
import { TokenFailure } from "../../gen/iam/v1/token_pb.js";
import { ALICE, READ, WRITE, exchangeRequest, obtainCode, obtainTokens, refreshRequest, setup } from "./flow.js";

/** Removes a permission from a role directly in the database (there is no admin API yet). */
function revokePermission(dbPath: string, roleId: string, permission: string): void {
  const db = new Database(dbPath);
  try {
    db.prepare("DELETE FROM role_permissions WHERE role_id = ? AND permission_id = ?").run(roleId, permission);
  } finally {
    db.close();
  }
}

test("a permission taken away from the user no longer reaches refreshed access tokens", async (t) => {
  const c = await setup(t);
  const tokens = await obtainTokens(c);
  t.is(tokens.scope, `${READ} ${WRITE}`);
  revokePermission(c.dbPath, `role-${ALICE.id}`, WRITE);
  const refreshed = await c.tokens.token(refreshRequest(tokens.refreshToken));
  t.is(refreshed.scope, READ);
  const verified = await c.tokens.verifyToken({ token: refreshed.accessToken, requiredScopes: [WRITE] });
  t.false(verified.active);
  t.is(verified.failure, TokenFailure.INSUFFICIENT_SCOPE);
});

test("a permission taken away between consent and the code exchange is not granted", async (t) => {
  const c = await setup(t);
  const { code } = await obtainCode(c);
  revokePermission(c.dbPath, `role-${ALICE.id}`, WRITE);
  const tokens = await c.tokens.token(exchangeRequest(code));
  t.is(tokens.scope, READ);
});
