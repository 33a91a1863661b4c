/**
 * AdminService: what a console shows of a project as a whole, through the
 * in-memory Connect transport: ListSigningKeys (the keys and what each still
 * does, never key material) and GetProjectSummary (its counts), with the
 * same tenant rule as every other project read.
 */
import { toJsonString } from "@bufbuild/protobuf";
import { Code, type CallOptions } from "@connectrpc/connect";
import test, { type ExecutionContext } from "ava";
import { ClientType, ListSigningKeysResponseSchema, SigningKeyState, type SigningKey } from "../../gen/iam/v1/admin_pb.js";
import type { ProjectRef } from "../../core/store/types.js";
import { DEFAULT } from "../helpers.js";
import {
  ACME,
  ALICE,
  createTenant,
  expectCode,
  fullTenant,
  globalAdminToken,
  loginScopes,
  projectAdminAuth,
  startAdmin,
  userTokens,
  type AdminTest,
} from "./rpc-support.js";

const GLOBEX: ProjectRef = { organization: "globex", project: "b" };

const nowSeconds = (c: AdminTest) => BigInt(Math.floor(c.clock.now() / 1000));

/** The kids of the project's JWKS, in its order. */
const jwksKids = async (c: AdminTest, ref: ProjectRef) => (await c.tokens.getJwks(ref)).keys.map((k) => k.kid);

/** After the clock moved past the global admin's token (600 s), a new one. */
async function renewAuth(c: AdminTest): Promise<void> {
  c.auth = { headers: { authorization: `Bearer ${await globalAdminToken(c)}` } };
}

/** Each key as `kid alg state`, in the answer's order. */
const described = (keys: SigningKey[]) => keys.map((k) => `${k.kid} ${k.alg} ${SigningKeyState[k.state]}`);

// --- ListSigningKeys ------------------------------------------------------------

test("ListSigningKeys answers a new project's current key of each algorithm, those its JWKS publishes", async (t) => {
  const c = await startAdmin(t);
  await createTenant(c, ACME);
  const { keys } = await c.admin.listSigningKeys(ACME, c.auth);
  t.deepEqual(
    keys.map((k) => [k.alg, k.state, k.createdAt, k.retiredAt, k.expiresAt]),
    [
      ["ES256", SigningKeyState.CURRENT, nowSeconds(c), 0n, 0n],
      ["RS256", SigningKeyState.CURRENT, nowSeconds(c), 0n, 0n],
    ],
  );
  t.deepEqual(keys.map((k) => k.kid).sort(), (await jwksKids(c, ACME)).sort());
});

test("after a rotation the new keys are current and the old ones verify until the rotation's expiry; then they are expired until the purge deletes them", async (t) => {
  const c = await startAdmin(t);
  await createTenant(c, ACME);
  const old = (await c.admin.listSigningKeys(ACME, c.auth)).keys;
  c.clock.advance(60);
  const rotatedAt = nowSeconds(c);
  const rotated = await c.admin.rotateSigningKey(ACME, c.auth);
  const [oldEs, oldRs] = old.map((k) => k.kid);
  const [newEs, newRs] = rotated.kids;

  const keys = (await c.admin.listSigningKeys(ACME, c.auth)).keys;
  t.deepEqual(described(keys), [`${newEs} ES256 CURRENT`, `${newRs} RS256 CURRENT`, `${oldEs} ES256 VERIFYING`, `${oldRs} RS256 VERIFYING`]);
  t.deepEqual(
    keys.map((k) => [k.createdAt, k.retiredAt, k.expiresAt]),
    [
      [rotatedAt, 0n, 0n],
      [rotatedAt, 0n, 0n],
      [rotatedAt - 60n, rotatedAt, rotated.retiredKeyExpiresAt],
      [rotatedAt - 60n, rotatedAt, rotated.retiredKeyExpiresAt],
    ],
  );
  t.deepEqual(keys.map((k) => k.kid).sort(), (await jwksKids(c, ACME)).sort(), "the keys verifying are those the JWKS publishes");

  // At expires_at the old keys leave the JWKS: the listing says so, until the purge deletes them.
  c.clock.advance(Number(rotated.retiredKeyExpiresAt - nowSeconds(c)));
  await renewAuth(c);
  const expired = (await c.admin.listSigningKeys(ACME, c.auth)).keys;
  t.deepEqual(described(expired), [`${newEs} ES256 CURRENT`, `${newRs} RS256 CURRENT`, `${oldEs} ES256 EXPIRED`, `${oldRs} RS256 EXPIRED`]);
  t.deepEqual((await jwksKids(c, ACME)).sort(), [newEs, newRs].sort());
  c.clock.advance(1);
  await c.core.deps.store.purgeExpired(Number(nowSeconds(c)));
  t.deepEqual(described((await c.admin.listSigningKeys(ACME, c.auth)).keys), [`${newEs} ES256 CURRENT`, `${newRs} RS256 CURRENT`]);
});

test("ListSigningKeys answers no key material: no private part, not even the public key", async (t) => {
  const c = await startAdmin(t);
  await createTenant(c, ACME);
  await c.admin.rotateSigningKey(ACME, c.auth);
  const json = toJsonString(ListSigningKeysResponseSchema, await c.admin.listSigningKeys(ACME, c.auth));
  const stored = await c.core.deps.store.listSigningKeys(ACME);
  t.is(stored.length, 4);
  for (const key of stored) {
    const jwk = JSON.parse(key.privateJwk) as Record<string, string>;
    for (const member of ["d", "p", "q", "dp", "dq", "qi", "x", "y", "n"]) {
      if (jwk[member] !== undefined) t.false(json.includes(jwk[member]!), `${key.alg} ${member}`);
    }
  }
  const fields = new Set((JSON.parse(json) as { keys: Record<string, unknown>[] }).keys.flatMap((k) => Object.keys(k)));
  t.deepEqual([...fields].sort(), ["alg", "createdAt", "expiresAt", "kid", "retiredAt", "state"]);
});

// --- GetProjectSummary ------------------------------------------------------------

test("GetProjectSummary counts what the project's listings show, and follows the changes made to it", async (t) => {
  const c = await startAdmin(t);
  const app = await fullTenant(c, ACME);
  const listed = async () => ({
    clients: (await c.admin.listClients({ ...ACME, pageSize: 1000 }, c.auth)).clients.length,
    users: (await c.admin.listUsers({ ...ACME, pageSize: 1000 }, c.auth)).users.length,
    enabledUsers: (await c.admin.listUsers({ ...ACME, pageSize: 1000 }, c.auth)).users.filter((u) => u.enabled).length,
    roles: (await c.admin.listRoles({ ...ACME, pageSize: 1000 }, c.auth)).roles.length,
    permissions: (await c.admin.listPermissions({ ...ACME, pageSize: 1000 }, c.auth)).permissions.length,
    signingKeys: (await c.admin.listSigningKeys(ACME, c.auth)).keys.filter((k) => k.state !== SigningKeyState.EXPIRED).length,
  });
  const summary = async () => {
    const s = await c.admin.getProjectSummary(ACME, c.auth);
    return { clients: s.clients, users: s.users, enabledUsers: s.enabledUsers, roles: s.roles, permissions: s.permissions, signingKeys: s.signingKeys };
  };
  const live = async () => (await c.admin.getProjectSummary(ACME, c.auth)).liveSessions;

  const before = await summary();
  t.deepEqual(before, await listed());
  t.like(before, { users: 1, enabledUsers: 1, signingKeys: 2 }, "alice; a key of each algorithm");
  t.is(await live(), 0);

  await c.admin.createUser({ ...ACME, userId: "bob", password: "bob-password" }, c.auth);
  await c.admin.updateUser({ ...ACME, userId: "bob", enabled: false, updateMask: { paths: ["enabled"] } }, c.auth);
  await c.admin.createClient({ ...ACME, clientId: "api", type: ClientType.CONFIDENTIAL, grantTypes: ["client_credentials"] }, c.auth);
  await c.admin.createPermission({ ...ACME, permissionId: "shop.orders.cancel" }, c.auth);
  await c.admin.createRole({ ...ACME, roleId: "clerk", permissions: ["shop.orders.cancel"] }, c.auth);
  await c.admin.rotateSigningKey(ACME, c.auth);
  const after = await summary();
  t.deepEqual(after, await listed());
  t.deepEqual(after, {
    clients: before.clients + 1,
    users: 2,
    enabledUsers: 1,
    roles: before.roles + 1,
    permissions: before.permissions + 1,
    signingKeys: 4,
  });

  // A sign-in opens a session; it stops counting once idle past IAM_SESSION_IDLE, or ended.
  await loginScopes(c, app, ALICE);
  t.is(await live(), 1);
  c.clock.advance(c.core.deps.config.sessionIdle);
  await renewAuth(c);
  t.is(await live(), 0, "idle for the whole idle lifetime");
  await loginScopes(c, app, ALICE);
  t.is(await live(), 1);
  await c.admin.revokeUserSessions({ ...ACME, userId: ALICE.id }, c.auth);
  t.is(await live(), 0, "ended");
});

test("GetProjectSummary counts one project only", async (t) => {
  const c = await startAdmin(t);
  await fullTenant(c, ACME);
  await createTenant(c, GLOBEX);
  const globex = await c.admin.getProjectSummary(GLOBEX, c.auth);
  t.like(globex, { users: 0, enabledUsers: 0, liveSessions: 0, signingKeys: 2 });
  t.is(globex.clients, (await c.admin.listClients({ ...GLOBEX, pageSize: 1000 }, c.auth)).clients.length);
  t.like(await c.admin.getProjectSummary(ACME, c.auth), { users: 1 });
});

// --- Authorization ----------------------------------------------------------------

/** Every caller of a project read, and what each may do with ACME's. */
async function callers(c: AdminTest): Promise<[label: string, options: CallOptions | undefined, code: Code | "ok"][]> {
  const app = await fullTenant(c, ACME);
  await createTenant(c, GLOBEX);
  const plainUser = await userTokens(c, app, ALICE);
  return [
    ["a global administrator", c.auth, "ok"],
    ["ACME's project administrator", await projectAdminAuth(c, ACME), "ok"],
    ["another project's administrator", await projectAdminAuth(c, GLOBEX), Code.PermissionDenied],
    ["a user of ACME without administration", { headers: { authorization: `Bearer ${plainUser.accessToken}` } }, Code.PermissionDenied],
    ["no token", undefined, Code.Unauthenticated],
    ["a garbage token", { headers: { authorization: "Bearer garbage-not-a-token" } }, Code.Unauthenticated],
  ];
}

const READS: [name: string, call: (c: AdminTest, ref: ProjectRef, options?: CallOptions) => Promise<unknown>][] = [
  ["ListSigningKeys", (c, ref, options) => c.admin.listSigningKeys(ref, options)],
  ["GetProjectSummary", (c, ref, options) => c.admin.getProjectSummary(ref, options)],
];

for (const [name, call] of READS) {
  test(`${name} is answered to a global administrator and to the project's own administrators only`, async (t: ExecutionContext) => {
    const c = await startAdmin(t);
    for (const [label, options, expected] of await callers(c)) {
      if (expected === "ok") await t.notThrowsAsync(call(c, ACME, options), label);
      else await expectCode(t, call(c, ACME, options), expected, label);
    }
    // ACME's administrator in iam-admins, where iam.project.admin grants nothing.
    await expectCode(t, call(c, DEFAULT, await projectAdminAuth(c, ACME, "ops-2")), Code.PermissionDenied, "ACME's administrator on iam-admins");
    await expectCode(t, call(c, { organization: "acme", project: "nope" }, c.auth), Code.NotFound, "an unknown project");
    await expectCode(t, call(c, { organization: "acme", project: "nope" }, await projectAdminAuth(c, ACME, "ops-3")), Code.PermissionDenied, "ACME's administrator on another project of acme");
  });
}
