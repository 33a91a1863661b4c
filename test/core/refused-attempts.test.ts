import { statSync } from "node:fs";
import { dirname, join } from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import test from "ava";
import Database from "better-sqlite3";
import { MAX_FAILED_LOGINS_PER_REQUEST } from "../../core/rpc/login.js";
import { openSqliteStore } from "../../core/store/sqlite/store.js";
import { startCoreServer } from "../../core/server/listen.js";
import { TokenFailure, TokenService } from "../../gen/iam/v1/token_pb.js";
import { DEFAULT, startTestCore, tempDir } from "../helpers.js";
import {
  ALICE,
  READ,
  WEB2,
  WRITE,
  authorizeRequest,
  exchangeRequest,
  expectOAuthError,
  obtainCode,
  obtainTokens,
  pendingOf,
  refreshRequest,
  setup,
} from "./flow.js";

/** Removes a permission from a role directly in the database (there is no admin API yet). */
function revokePermission(dbPath: string, roleId: string, permission: string): void {
  const db = new Database(dbPath);
  try {
    db.prepare("DELETE FROM role_permissions WHERE role_id = ? AND permission_id = ?").run(roleId, permission);
  } finally {
    db.close();
  }
}

test(`a pending request allows ${MAX_FAILED_LOGINS_PER_REQUEST} failed logins, then is spent even for the right password`, async (t) => {
  const c = await setup(t);
  const auth = await c.authorization.authorize(authorizeRequest());
  for (let i = 0; i < MAX_FAILED_LOGINS_PER_REQUEST; i++) {
    await expectOAuthError(t, c.authorization.login({ ...DEFAULT, requestId: auth.requestId, username: ALICE.id, password: `guess-${i}` }), {
      error: "access_denied",
      status: "401",
    });
  }
  t.is(await pendingOf(c, auth.requestId), undefined);
  await expectOAuthError(t, c.authorization.login({ ...DEFAULT, requestId: auth.requestId, username: ALICE.id, password: ALICE.password }), {
    error: "invalid_request",
  });
});

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

test("another client presenting an already used code is refused without revoking the rightful client's grant", async (t) => {
  const c = await setup(t);
  const tokens = await obtainTokens(c);
  await expectOAuthError(t, c.tokens.token(exchangeRequest(tokens.code, { basic: { clientId: WEB2.id, clientSecret: WEB2.secret } })), {
    error: "invalid_grant",
  });
  t.true((await c.tokens.verifyToken({ token: tokens.accessToken })).active);
});

test("a refused request is written to the log with its reason and no secret", async (t) => {
  const c = await setup(t);
  const auth = await c.authorization.authorize(authorizeRequest());
  await t.throwsAsync(c.authorization.login({ ...DEFAULT, requestId: auth.requestId, username: ALICE.id, password: "wrong-password-xyz" }));
  const refused = c.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === "rpc" && l.error !== undefined);
  t.true(refused.some((l) => l.rpc === "iam.v1.AuthorizationService/Login" && l.error === "access_denied" && String(l.detail).includes("wrong password")));
  t.false(c.lines.some((l) => l.includes("wrong-password-xyz") || l.includes(auth.requestId)));
});

test("the database file and its folder are readable by their owner only", async (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const path = join(dir, "fresh", "iam.db");
  const store = openSqliteStore(path);
  await store.close();
  t.is(statSync(path).mode & 0o777, 0o600);
  t.is(statSync(dirname(path)).mode & 0o777, 0o700);
});

test("the core port refuses request bodies over 64 KiB", async (t) => {
  const c = await startTestCore();
  t.teardown(() => c.close());
  const server = await startCoreServer(c.core.routes, "127.0.0.1", 0);
  t.teardown(() => server.close(100));
  const client = createClient(TokenService, createConnectTransport({ baseUrl: `http://127.0.0.1:${server.port}`, httpVersion: "2" }));
  const err = await t.throwsAsync(client.verifyToken({ token: "x".repeat(100 * 1024) }), { instanceOf: ConnectError });
  t.is(err?.code, Code.ResourceExhausted);
  t.false((await client.verifyToken({ token: "x".repeat(1024) })).active);
});

test("a key load started outside a transaction while it is open does not deadlock the transaction that needs the same keys", async (t) => {
  const c = await setup(t);
  const { store, keys } = c.core.deps;
  keys.forget(DEFAULT); // cold, as after a restart
  let release!: () => void;
  const opened = new Promise<void>((resolve) => (release = resolve));
  // Created here, outside the transaction's async flow: this load waits for the transaction.
  const outside = opened.then(() => keys.jwks(DEFAULT));
  const inside = store.transaction(async () => {
    release();
    await new Promise((resolve) => setImmediate(resolve));
    return keys.signing(DEFAULT);
  });
  const result = await Promise.race([
    Promise.all([inside, outside]).then(([signing, jwks]) => jwks?.some((k) => k.kid === signing.kid)),
    new Promise((resolve) => setTimeout(() => resolve("deadlocked"), 5_000)),
  ]);
  t.is(result, true);
});
