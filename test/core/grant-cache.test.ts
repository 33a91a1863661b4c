/**
 * Grants answered from memory (core/store/cached.ts, SQLite migration 5):
 * VerifyToken, introspection and client_credentials read no database once
 * warm while nothing changes (client_credentials writes its audit event), and a revocation or a user's disabling, by
 * another process or as raw SQL, is refused by the next call.
 */
import test from "ava";
import Database from "better-sqlite3";
import { decodeJwt } from "jose";
import { TokenFailure } from "../../gen/iam/v1/token_pb.js";
import { openSqliteStore } from "../../core/store/sqlite/store.js";
import { GRANT_CLAIM } from "../../core/tokens/issue.js";
import { DEFAULT, seedClient } from "../helpers.js";
import { ALICE, obtainTokens, READ, setup, WEB } from "./flow.js";

type Core = Awaited<ReturnType<typeof setup>>;

async function machineClient(c: Core, id = "svc-grants") {
  const { store } = c.core.deps;
  await store.createRole({ ...DEFAULT, id: `role-${id}`, description: "service", permissions: [READ] });
  await seedClient(c.core, { id, secret: `${id}-secret-0123456789`, grantTypes: ["client_credentials"] });
  await store.assignRole(DEFAULT, { clientId: id }, `role-${id}`);
  return { id, secret: `${id}-secret-0123456789` };
}

const clientCredentials = (c: Core, client: { id: string; secret: string }) =>
  c.tokens.token({ ...DEFAULT, grantType: "client_credentials", clientId: client.id, clientSecret: client.secret });
const verify = (c: Core, token: string) => c.tokens.verifyToken({ token, ...DEFAULT, requiredScopes: [READ] });
const introspect = (c: Core, client: { id: string; secret: string }, token: string) =>
  c.tokens.introspect({ ...DEFAULT, client: { clientId: client.id, clientSecret: client.secret }, token });

/** Store operations that reached the database so far, by name (the timing histogram's counts). */
async function databaseOperations(c: Core): Promise<Map<string, number>> {
  const { body } = await c.core.deps.metrics.render();
  const counts = new Map<string, number>();
  for (const match of body.matchAll(/^iam_db_operation_duration_seconds_count\{operation="(\w+)"\} (\d+)$/gm)) {
    counts.set(match[1]!, Number(match[2]));
  }
  return counts;
}

function reachedSince(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const reached: Record<string, number> = {};
  for (const [name, n] of after) if (n > (before.get(name) ?? 0)) reached[name] = n - (before.get(name) ?? 0);
  return reached;
}

function sql(dbPath: string, statement: string, ...params: unknown[]): number {
  const db = new Database(dbPath);
  try {
    return db.prepare(statement).run(...params).changes;
  } finally {
    db.close();
  }
}

test("once warm, client_credentials, VerifyToken and introspection read no database while nothing changes; client_credentials writes its audit event", async (t) => {
  const c = await setup(t);
  const client = await machineClient(c);
  const { accessToken } = await clientCredentials(c, client);
  // Warm: the client, its permissions, its grant (whose creation moved the epoch), the keys and the
  // token's signature are read once.
  await clientCredentials(c, client);
  t.true((await verify(c, accessToken)).active);
  t.true((await introspect(c, client, accessToken)).active);

  const before = await databaseOperations(c);
  for (let i = 0; i < 10; i++) {
    t.truthy((await clientCredentials(c, client)).accessToken);
    t.true((await verify(c, accessToken)).active);
    t.true((await introspect(c, client, accessToken)).active);
  }
  // The one write: each client_credentials token's audit event, queued and written at the end of its turn
  // (alone, as the calls come one at a time) with its COMMIT, without a transaction of its own around it.
  t.deepEqual(
    reachedSince(before, await databaseOperations(c)),
    { appendAuditEvents: 10, commit: 10 },
    "no store operation but the audit events reached the database",
  );
});

test("a client grant revoked by raw SQL from another process is refused at once by VerifyToken and introspection, and client_credentials starts a new grant", async (t) => {
  const c = await setup(t);
  const client = await machineClient(c);
  const { accessToken } = await clientCredentials(c, client);
  for (let i = 0; i < 2; i++) {
    t.true((await verify(c, accessToken)).active);
    t.true((await introspect(c, client, accessToken)).active);
  }
  const grantId = decodeJwt(accessToken)[GRANT_CLAIM] as string;

  t.is(sql(c.dbPath, "UPDATE grants SET revoked_at = 1 WHERE id = ?", grantId), 1);

  const verified = await verify(c, accessToken);
  t.false(verified.active);
  t.is(verified.failure, TokenFailure.REVOKED);
  t.false((await introspect(c, client, accessToken)).active);
  const next = await clientCredentials(c, client);
  t.not(decodeJwt(next.accessToken)[GRANT_CLAIM], grantId, "a new grant: the revoked one is not served from memory");
  t.true((await verify(c, next.accessToken)).active);
});

test("a user's grant revoked through another process's store is refused at once; so are all the user's grants revoked there", async (t) => {
  const c = await setup(t);
  const web = { id: WEB.id, secret: WEB.secret };
  const first = await obtainTokens(c);
  const second = await obtainTokens(c);
  for (const tokens of [first, second]) {
    t.true((await verify(c, tokens.accessToken)).active);
    t.true((await introspect(c, web, tokens.accessToken)).active);
  }

  const other = openSqliteStore(c.dbPath);
  t.teardown(() => other.close());
  await other.revokeGrant(decodeJwt(first.accessToken)[GRANT_CLAIM] as string, 1);
  t.is((await verify(c, first.accessToken)).failure, TokenFailure.REVOKED);
  t.false((await introspect(c, web, first.accessToken)).active);
  t.true((await verify(c, second.accessToken)).active, "another grant of the same user is untouched");

  // What disabling a user through the AdminService does, there.
  await other.revokeUserGrants(DEFAULT, ALICE.id, 2);
  t.is((await verify(c, second.accessToken)).failure, TokenFailure.REVOKED);
  t.false((await introspect(c, web, second.accessToken)).active);
  t.false((await introspect(c, web, second.refreshToken)).active, "nor its refresh token");
});

test("a grant revoked in this process is refused by the next call, whichever request revoked it", async (t) => {
  const c = await setup(t);
  const client = await machineClient(c);
  const { accessToken } = await clientCredentials(c, client);
  t.true((await verify(c, accessToken)).active);
  await c.tokens.revoke({ ...DEFAULT, client: { clientId: client.id, clientSecret: client.secret }, token: accessToken });
  t.is((await verify(c, accessToken)).failure, TokenFailure.REVOKED);
  t.false((await introspect(c, client, accessToken)).active);
});
