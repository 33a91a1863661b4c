/**
 * The SQLite store answers reads of projects, clients, users and their
 * permissions from memory. Nothing an administrator changes may keep working
 * from that copy: not through this process, not through another connection
 * (the `iam` command, another process), not after a rolled-back transaction.
 */
import test from "ava";
import { openSqliteStore } from "../../core/store/sqlite/store.js";
import { DEFAULT, seedClient } from "../helpers.js";
import { ALICE, obtainTokens, refreshRequest, setup, setUserEnabled, READ, WRITE } from "./flow.js";

const M2M_SCOPES = [READ, WRITE];

async function machineClient(c: Awaited<ReturnType<typeof setup>>, id = "svc-cache") {
  const { store } = c.core.deps;
  await store.createRole({ ...DEFAULT, id: `role-${id}`, description: "service", permissions: M2M_SCOPES });
  await seedClient(c.core, { id, secret: `${id}-secret-0123456789`, grantTypes: ["client_credentials"] });
  await store.assignRole(DEFAULT, { clientId: id }, `role-${id}`);
  return { id, secret: `${id}-secret-0123456789` };
}

const cc = (c: Awaited<ReturnType<typeof setup>>, client: { id: string; secret: string }) =>
  c.tokens.token({ ...DEFAULT, grantType: "client_credentials", clientId: client.id, clientSecret: client.secret });

test("a client secret rotated by another connection stops working on the next request", async (t) => {
  const c = await setup(t);
  const client = await machineClient(c);
  t.truthy((await cc(c, client)).accessToken);
  t.truthy((await cc(c, client)).accessToken, "served with the client read from memory");

  const other = openSqliteStore(c.dbPath);
  t.teardown(() => other.close());
  t.true(await other.setClientSecret(DEFAULT, client.id, await c.core.deps.passwords.hash("the-new-secret-0123456789")));

  const refused = await t.throwsAsync(cc(c, client));
  t.regex(refused!.message, /client authentication failed/);
  t.truthy((await cc(c, { id: client.id, secret: "the-new-secret-0123456789" })).accessToken);
});

test("a role taken from a client in this process narrows its next token at once", async (t) => {
  const c = await setup(t);
  const client = await machineClient(c);
  t.is((await cc(c, client)).scope, M2M_SCOPES.join(" "));
  await c.core.deps.store.unassignRole(DEFAULT, { clientId: client.id }, `role-${client.id}`);
  // It holds no scope now: a token without scope (nothing was requested).
  t.is((await cc(c, client)).scope, "");
});

test("a user disabled by another connection cannot refresh, though the user was read from memory just before", async (t) => {
  const c = await setup(t);
  const first = await obtainTokens(c);
  const second = await c.tokens.token(refreshRequest(first.refreshToken));
  t.truthy(second.accessToken);
  await setUserEnabled(c, DEFAULT, ALICE.id, false);
  const refused = await t.throwsAsync(c.tokens.token(refreshRequest(second.refreshToken)));
  t.regex(refused!.message, /invalid, expired or revoked/);
});

test("what a rolled-back transaction wrote is not answered from memory afterwards", async (t) => {
  const c = await setup(t);
  const { store } = c.core.deps;
  await t.throwsAsync(
    store.transaction(async (tx) => {
      await seedClient({ ...c.core, deps: { ...c.core.deps, store: tx } }, { id: "phantom", secret: "phantom-secret-0123456789" });
      t.truthy(await tx.getClient(DEFAULT, "phantom"), "visible inside the transaction");
      throw new Error("abort");
    }),
    { message: "abort" },
  );
  t.is(await store.getClient(DEFAULT, "phantom"), undefined);
});

test("records answered from memory are frozen, so no caller can change another's copy", async (t) => {
  const c = await setup(t);
  const client = await machineClient(c);
  const record = (await c.core.deps.store.getClient(DEFAULT, client.id))!;
  t.true(Object.isFrozen(record));
  t.throws(() => {
    (record.grantTypes as string[]).push("password");
  });
  t.deepEqual((await c.core.deps.store.getClient(DEFAULT, client.id))!.grantTypes, ["client_credentials"]);
});

test("token traffic of another process leaves the copy in memory alone; its administration drops it", async (t) => {
  const c = await setup(t);
  const client = await machineClient(c);
  const { store } = c.core.deps;
  const held = await store.getClient(DEFAULT, client.id);
  t.is(await store.getClient(DEFAULT, client.id), held, "the same frozen record: answered from memory");

  // Another process signs users in and issues tokens: grants, codes, refresh tokens.
  const other = openSqliteStore(c.dbPath);
  t.teardown(() => other.close());
  const epoch = await store.getChangeEpoch();
  await obtainTokens(c);
  await other.createGrant({
    ...DEFAULT,
    id: "grant-elsewhere",
    clientId: client.id,
    // A user's grant: a client grant's creation moves the epoch (its tokens are issued from memory).
    kind: "user",
    userId: ALICE.id,
    scopes: [],
    authTime: 0,
    createdAt: 0,
    expiresAt: 4_000_000_000,
    sessionId: "",
    acr: "",
    amr: [],
    claims: "",
    revokedAt: null,
    dpopJkt: "",
    resources: [],
  });
  t.is(await store.getChangeEpoch(), epoch, "token state does not move the change epoch");
  t.is(await store.getClient(DEFAULT, client.id), held, "still answered from memory");

  // Its administration does, even as raw SQL.
  await setUserEnabled(c, DEFAULT, ALICE.id, false);
  t.true((await store.getChangeEpoch()) > epoch);
  const reread = await store.getClient(DEFAULT, client.id);
  t.not(reread, held, "read again from the database");
  t.deepEqual(reread, held);
});
