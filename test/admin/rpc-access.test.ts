/**
 * AdminService: permissions and roles (Create/List/Delete, Assign/Unassign),
 * as a global administrator, through the in-memory Connect transport, with
 * their effect on login scopes and client_credentials scopes.
 */
import { Code } from "@connectrpc/connect";
import test from "ava";
import {
  ACME,
  ALICE,
  clientToken,
  createApp,
  createRole,
  createTenant,
  createUser,
  expectCode,
  expectOAuth,
  fullTenant,
  loginScopes,
  READ,
  refresh,
  scopesOf,
  startAdmin,
  userTokens,
  verify,
  WRITE,
  type AdminTest,
} from "./rpc-support.js";

const DELETE = "shop.orders.delete";

async function tenant(t: import("ava").ExecutionContext): Promise<AdminTest> {
  const c = await startAdmin(t);
  await createTenant(c, ACME);
  return c;
}

const user = (value: string) => ({ case: "userId" as const, value });
const client = (value: string) => ({ case: "clientId" as const, value });

// --- permissions ---------------------------------------------------------------

test("CreatePermission creates a permission that ListPermissions answers, ordered by id", async (t) => {
  const c = await tenant(t);
  const res = await c.admin.createPermission({ ...ACME, permissionId: READ, description: "Read your orders" }, c.auth);
  t.like(res.permission, { organization: "acme", project: "shop", id: READ, description: "Read your orders" });
  await c.admin.createPermission({ ...ACME, permissionId: "billing.invoices.read" }, c.auth);
  const listed = await c.admin.listPermissions(ACME, c.auth);
  t.deepEqual(
    listed.permissions.map((p) => [p.id, p.description]),
    [
      ["billing.invoices.read", ""],
      ["iam.project.admin", "Administer this project"],
      [READ, "Read your orders"],
    ],
  );
  t.is(listed.nextPageToken, "");
  t.true(listed.permissions.every((p) => p.organization === "acme" && p.project === "shop"));
});

test("CreatePermission refuses ids that are not service.resource.action with InvalidArgument and accepts those that are", async (t) => {
  const c = await tenant(t);
  const part63 = "p".repeat(63);
  const bad: [string, string][] = [
    ["empty", ""],
    ["one part", "read"],
    ["two parts", "orders.read"],
    ["four parts", "shop.orders.read.all"],
    ["uppercase", "Shop.orders.read"],
    ["uppercase inside", "shop.Orders.read"],
    ["service starts with a digit", "1shop.orders.read"],
    ["resource starts with a digit", "shop.1orders.read"],
    ["action starts with a hyphen", "shop.orders.-read"],
    ["empty part", "shop..read"],
    ["leading dot", ".shop.orders.read"],
    ["trailing dot", "shop.orders.read."],
    ["underscore", "shop.orders.read_all"],
    ["space", "shop.orders.read all"],
    ["colon", "shop:orders:read"],
    ["part of 64 characters", `shop.${"p".repeat(64)}.read`],
  ];
  for (const [what, permissionId] of bad) {
    await expectCode(t, c.admin.createPermission({ ...ACME, permissionId }, c.auth), Code.InvalidArgument, `permission ${what}`);
  }
  const good = ["a.b.c", "shop-2.orders-x.read-all", "s0.r1.a2", `${part63}.${part63}.${part63}`];
  for (const permissionId of good) {
    t.is((await c.admin.createPermission({ ...ACME, permissionId }, c.auth)).permission?.id, permissionId);
  }
  t.deepEqual(
    (await c.admin.listPermissions({ ...ACME, pageSize: 1000 }, c.auth)).permissions.map((p) => p.id),
    [...good, "iam.project.admin"].sort(),
  );
});

test("CreatePermission of an existing id is AlreadyExists; in a missing project NotFound", async (t) => {
  const c = await tenant(t);
  await c.admin.createPermission({ ...ACME, permissionId: READ, description: "first" }, c.auth);
  await expectCode(t, c.admin.createPermission({ ...ACME, permissionId: READ, description: "second" }, c.auth), Code.AlreadyExists, READ);
  await expectCode(t, c.admin.createPermission({ ...ACME, permissionId: "iam.project.admin" }, c.auth), Code.AlreadyExists, "iam.project.admin");
  t.is((await c.admin.listPermissions(ACME, c.auth)).permissions.find((p) => p.id === READ)?.description, "first");
  await expectCode(t, c.admin.createPermission({ organization: "acme", project: "nope", permissionId: READ }, c.auth), Code.NotFound, "missing project");
});

test("ListPermissions is paginated; a missing project is NotFound; bad page_size or page_token is InvalidArgument", async (t) => {
  const c = await tenant(t);
  const ids = ["e.e.e", "b.b.b", "d.d.d", "a.a.a", "c.c.c"];
  for (const permissionId of ids) await c.admin.createPermission({ ...ACME, permissionId }, c.auth);
  const all = [...ids, "iam.project.admin"].sort();
  const pages: string[][] = [];
  let pageToken = "";
  do {
    const res = await c.admin.listPermissions({ ...ACME, pageSize: 4, pageToken }, c.auth);
    pages.push(res.permissions.map((p) => p.id));
    pageToken = res.nextPageToken;
  } while (pageToken !== "" && pages.length < 10);
  t.deepEqual(pages, [all.slice(0, 4), all.slice(4)]);
  await expectCode(t, c.admin.listPermissions({ organization: "acme", project: "nope" }, c.auth), Code.NotFound, "missing project");
  await expectCode(t, c.admin.listPermissions({ ...ACME, pageSize: -2 }, c.auth), Code.InvalidArgument, "negative page_size");
  await expectCode(t, c.admin.listPermissions({ ...ACME, pageToken: "***" }, c.auth), Code.InvalidArgument, "bad page_token");
});

test("ListPermissions pages through permission ids longer than 128 characters", async (t) => {
  const c = await tenant(t);
  // Valid ids (three parts of up to 63 characters) may be up to 191 characters long.
  const long = (first: string) => `${first.repeat(63)}.${"r".repeat(63)}.${"x".repeat(63)}`;
  const ids = [long("a"), long("b"), long("c")];
  for (const permissionId of ids) await c.admin.createPermission({ ...ACME, permissionId }, c.auth);
  const seen: string[] = [];
  let pageToken = "";
  let pages = 0;
  do {
    const res = await c.admin.listPermissions({ ...ACME, pageSize: 1, pageToken }, c.auth);
    seen.push(...res.permissions.map((p) => p.id));
    pageToken = res.nextPageToken;
    pages++;
  } while (pageToken !== "" && pages < 10);
  t.deepEqual(seen, [...ids, "iam.project.admin"], "every page token the server issued is accepted back");
});

test("DeletePermission deletes it and removes it from every role, user and client scope", async (t) => {
  const c = await startAdmin(t);
  const app = await fullTenant(c, ACME);
  await createRole(c, ACME, "editor", [READ, WRITE]);
  await c.admin.assignRole({ ...ACME, roleId: "editor", subject: user(ALICE.id) }, c.auth);
  await c.admin.assignRole({ ...ACME, roleId: "editor", subject: client(app.id) }, c.auth);
  t.deepEqual(await loginScopes(c, app, ALICE), [READ, WRITE]);
  t.deepEqual(scopesOf((await clientToken(c, ACME, app.id, app.secret)).scope), [READ, WRITE]);

  await c.admin.deletePermission({ ...ACME, permissionId: READ }, c.auth);

  t.deepEqual(
    (await c.admin.listPermissions(ACME, c.auth)).permissions.map((p) => p.id),
    ["iam.project.admin", WRITE],
  );
  t.deepEqual(
    (await c.admin.listRoles(ACME, c.auth)).roles.map((r) => [r.id, r.permissions]),
    [
      ["editor", [WRITE]],
      ["project-admin", ["iam.project.admin"]],
      ["reader", []],
    ],
  );
  t.deepEqual((await c.admin.getUser({ ...ACME, userId: ALICE.id }, c.auth)).user?.roles, ["editor", "reader"], "assignments stay");
  t.deepEqual(await loginScopes(c, app, ALICE), [WRITE]);
  t.deepEqual(scopesOf((await clientToken(c, ACME, app.id, app.secret)).scope), [WRITE]);
  await expectOAuth(t, clientToken(c, ACME, app.id, app.secret, READ), "invalid_scope", Code.InvalidArgument, "asking for the deleted scope");
  // Recreating it does not bring it back into the roles.
  await c.admin.createPermission({ ...ACME, permissionId: READ }, c.auth);
  t.deepEqual(await loginScopes(c, app, ALICE), [WRITE]);
});

test("DeletePermission of a missing permission is NotFound", async (t) => {
  const c = await tenant(t);
  await expectCode(t, c.admin.deletePermission({ ...ACME, permissionId: READ }, c.auth), Code.NotFound, "missing permission");
  await expectCode(t, c.admin.deletePermission({ organization: "acme", project: "nope", permissionId: READ }, c.auth), Code.NotFound, "missing project");
  await c.admin.createPermission({ ...ACME, permissionId: READ }, c.auth);
  await c.admin.deletePermission({ ...ACME, permissionId: READ }, c.auth);
  await expectCode(t, c.admin.deletePermission({ ...ACME, permissionId: READ }, c.auth), Code.NotFound, "deleting twice");
});

// --- roles -------------------------------------------------------------------------

test("CreateRole creates a role of existing permissions that ListRoles answers", async (t) => {
  const c = await tenant(t);
  for (const permissionId of [READ, WRITE]) await c.admin.createPermission({ ...ACME, permissionId }, c.auth);
  const res = await c.admin.createRole({ ...ACME, roleId: "editor", description: "Edits orders", permissions: [WRITE, READ, WRITE] }, c.auth);
  t.like(res.role, { organization: "acme", project: "shop", id: "editor", description: "Edits orders" });
  t.deepEqual([...(res.role?.permissions ?? [])].sort(), [READ, WRITE].sort(), "each permission once");
  const empty = await c.admin.createRole({ ...ACME, roleId: "nobody" }, c.auth);
  t.deepEqual(empty.role?.permissions, []);
  const listed = await c.admin.listRoles(ACME, c.auth);
  t.deepEqual(
    listed.roles.map((r) => [r.id, r.description, [...r.permissions].sort()]),
    [
      ["editor", "Edits orders", [READ, WRITE].sort()],
      ["nobody", "", []],
      ["project-admin", "Administration of this project", ["iam.project.admin"]],
    ],
  );
});

test("CreateRole with a permission the project does not have is InvalidArgument", async (t) => {
  const c = await tenant(t);
  await c.admin.createPermission({ ...ACME, permissionId: READ }, c.auth);
  await expectCode(t, c.admin.createRole({ ...ACME, roleId: "editor", permissions: [WRITE] }, c.auth), Code.InvalidArgument, "unknown");
  await expectCode(t, c.admin.createRole({ ...ACME, roleId: "editor", permissions: [READ, WRITE] }, c.auth), Code.InvalidArgument, "one unknown");
  await expectCode(t, c.admin.createRole({ ...ACME, roleId: "editor", permissions: ["not a permission"] }, c.auth), Code.InvalidArgument, "malformed");
  // A permission of another project does not count.
  await c.admin.createProject({ organization: "acme", id: "other" }, c.auth);
  await c.admin.createPermission({ organization: "acme", project: "other", permissionId: DELETE }, c.auth);
  await expectCode(t, c.admin.createRole({ ...ACME, roleId: "editor", permissions: [DELETE] }, c.auth), Code.InvalidArgument, "other project's");
  t.deepEqual(
    (await c.admin.listRoles(ACME, c.auth)).roles.map((r) => r.id),
    ["project-admin"],
    "nothing was created",
  );
});

test("CreateRole refuses role ids that break the rules with InvalidArgument and accepts those that keep them", async (t) => {
  const c = await tenant(t);
  const bad: [string, string][] = [
    ["empty", ""],
    ["slash", "bad/role"],
    ["space", "bad role"],
    ["at sign", "role@x"],
    ["plus", "role+x"],
    ["colon", "role:x"],
    ["non-ASCII", "röle"],
    ["129 characters", "r".repeat(129)],
  ];
  for (const [what, roleId] of bad) {
    await expectCode(t, c.admin.createRole({ ...ACME, roleId }, c.auth), Code.InvalidArgument, `role id ${what}`);
  }
  const good = ["R", "Reader", "r.o-l_e~", ".dot-first", "r".repeat(128)];
  for (const roleId of good) t.is((await c.admin.createRole({ ...ACME, roleId }, c.auth)).role?.id, roleId);
  t.deepEqual(
    (await c.admin.listRoles({ ...ACME, pageSize: 1000 }, c.auth)).roles.map((r) => r.id),
    [...good, "project-admin"].sort(),
  );
});

test("CreateRole of an existing id is AlreadyExists; in a missing project NotFound", async (t) => {
  const c = await tenant(t);
  await c.admin.createPermission({ ...ACME, permissionId: READ }, c.auth);
  await c.admin.createRole({ ...ACME, roleId: "reader", permissions: [READ] }, c.auth);
  await expectCode(t, c.admin.createRole({ ...ACME, roleId: "reader" }, c.auth), Code.AlreadyExists, "reader");
  await expectCode(t, c.admin.createRole({ ...ACME, roleId: "project-admin" }, c.auth), Code.AlreadyExists, "project-admin");
  t.deepEqual((await c.admin.listRoles(ACME, c.auth)).roles.find((r) => r.id === "reader")?.permissions, [READ], "the first one is kept");
  await expectCode(t, c.admin.createRole({ organization: "acme", project: "nope", roleId: "reader" }, c.auth), Code.NotFound, "missing project");
});

test("ListRoles is ordered by id and paginated; a missing project is NotFound; bad page_size or page_token is InvalidArgument", async (t) => {
  const c = await tenant(t);
  const ids = ["zeta", "alpha", "mu", "Beta", "omega", "kappa"];
  for (const roleId of ids) await c.admin.createRole({ ...ACME, roleId }, c.auth);
  const all = [...ids, "project-admin"].sort();
  const pages: string[][] = [];
  const tokens: string[] = [];
  let pageToken = "";
  do {
    const res = await c.admin.listRoles({ ...ACME, pageSize: 3, pageToken }, c.auth);
    pages.push(res.roles.map((r) => r.id));
    tokens.push(res.nextPageToken);
    pageToken = res.nextPageToken;
  } while (pageToken !== "" && pages.length < 10);
  t.deepEqual(pages, [all.slice(0, 3), all.slice(3, 6), all.slice(6)]);
  t.is(tokens[2], "");
  await expectCode(t, c.admin.listRoles({ organization: "acme", project: "nope" }, c.auth), Code.NotFound, "missing project");
  await expectCode(t, c.admin.listRoles({ ...ACME, pageSize: -1 }, c.auth), Code.InvalidArgument, "negative page_size");
  await expectCode(t, c.admin.listRoles({ ...ACME, pageToken: "a b" }, c.auth), Code.InvalidArgument, "bad page_token");
});

test("DeleteRole deletes the role and every assignment of it", async (t) => {
  const c = await startAdmin(t);
  const app = await fullTenant(c, ACME);
  await createRole(c, ACME, "writer", [WRITE]);
  await c.admin.assignRole({ ...ACME, roleId: "writer", subject: user(ALICE.id) }, c.auth);
  await c.admin.assignRole({ ...ACME, roleId: "writer", subject: client(app.id) }, c.auth);
  await c.admin.assignRole({ ...ACME, roleId: "reader", subject: client(app.id) }, c.auth);
  t.deepEqual(await loginScopes(c, app, ALICE), [READ, WRITE]);

  await c.admin.deleteRole({ ...ACME, roleId: "writer" }, c.auth);

  t.deepEqual(
    (await c.admin.listRoles(ACME, c.auth)).roles.map((r) => r.id),
    ["project-admin", "reader"],
  );
  t.deepEqual((await c.admin.getUser({ ...ACME, userId: ALICE.id }, c.auth)).user?.roles, ["reader"]);
  t.deepEqual((await c.admin.getClient({ ...ACME, clientId: app.id }, c.auth)).client?.roles, ["reader"]);
  t.deepEqual(await loginScopes(c, app, ALICE), [READ]);
  t.deepEqual(scopesOf((await clientToken(c, ACME, app.id, app.secret)).scope), [READ]);
  t.deepEqual(
    (await c.admin.listPermissions(ACME, c.auth)).permissions.map((p) => p.id),
    ["iam.project.admin", READ, WRITE],
    "its permissions stay",
  );
  // A role recreated under the same id is not assigned to anyone.
  await c.admin.createRole({ ...ACME, roleId: "writer", permissions: [WRITE] }, c.auth);
  t.deepEqual((await c.admin.getUser({ ...ACME, userId: ALICE.id }, c.auth)).user?.roles, ["reader"]);
  t.deepEqual((await c.admin.getClient({ ...ACME, clientId: app.id }, c.auth)).client?.roles, ["reader"]);
});

test("DeleteRole of a missing role is NotFound", async (t) => {
  const c = await tenant(t);
  await expectCode(t, c.admin.deleteRole({ ...ACME, roleId: "nope" }, c.auth), Code.NotFound, "missing role");
  await expectCode(t, c.admin.deleteRole({ organization: "acme", project: "nope", roleId: "project-admin" }, c.auth), Code.NotFound, "missing project");
  await c.admin.createRole({ ...ACME, roleId: "temp" }, c.auth);
  await c.admin.deleteRole({ ...ACME, roleId: "temp" }, c.auth);
  await expectCode(t, c.admin.deleteRole({ ...ACME, roleId: "temp" }, c.auth), Code.NotFound, "deleting twice");
});

// --- AssignRole / UnassignRole -------------------------------------------------------

test("AssignRole to a user shows in GetUser.roles, ListUsers and the user's login scopes", async (t) => {
  const c = await tenant(t);
  const app = await createApp(c);
  await createRole(c, ACME, "reader", [READ]);
  await createRole(c, ACME, "writer", [WRITE]);
  await createUser(c, ACME, ALICE);
  t.deepEqual(await loginScopes(c, app, ALICE), [], "nothing before");

  await c.admin.assignRole({ ...ACME, roleId: "writer", subject: user(ALICE.id) }, c.auth);
  await c.admin.assignRole({ ...ACME, roleId: "reader", subject: user(ALICE.id) }, c.auth);

  t.deepEqual((await c.admin.getUser({ ...ACME, userId: ALICE.id }, c.auth)).user?.roles, ["reader", "writer"]);
  t.deepEqual((await c.admin.listUsers(ACME, c.auth)).users.find((u) => u.id === ALICE.id)?.roles, ["reader", "writer"]);
  t.deepEqual(await loginScopes(c, app, ALICE), [READ, WRITE]);
  const tokens = await userTokens(c, app, ALICE);
  t.deepEqual(scopesOf(tokens.scope), [READ, WRITE]);
  t.deepEqual((await verify(c, tokens.accessToken)).scopes, [READ, WRITE]);
});

test("AssignRole to a client shows in GetClient.roles, ListClients and its client_credentials scopes", async (t) => {
  const c = await tenant(t);
  const app = await createApp(c);
  await createRole(c, ACME, "reader", [READ]);
  await createRole(c, ACME, "writer", [WRITE]);
  t.is((await clientToken(c, ACME, app.id, app.secret)).scope, "", "nothing before");

  await c.admin.assignRole({ ...ACME, roleId: "writer", subject: client(app.id) }, c.auth);
  await c.admin.assignRole({ ...ACME, roleId: "reader", subject: client(app.id) }, c.auth);

  t.deepEqual((await c.admin.getClient({ ...ACME, clientId: app.id }, c.auth)).client?.roles, ["reader", "writer"]);
  t.deepEqual((await c.admin.listClients(ACME, c.auth)).clients.find((x) => x.id === app.id)?.roles, ["reader", "writer"]);
  const token = await clientToken(c, ACME, app.id, app.secret);
  t.deepEqual(scopesOf(token.scope), [READ, WRITE]);
  t.deepEqual((await verify(c, token.accessToken)).scopes, [READ, WRITE]);
  t.deepEqual(scopesOf((await clientToken(c, ACME, app.id, app.secret, WRITE)).scope), [WRITE]);
  // The client's roles are its own: a user logging in through it gets nothing from them.
  await createUser(c, ACME, ALICE);
  t.deepEqual(await loginScopes(c, app, ALICE), []);
});

test("AssignRole to a missing user, client or role is NotFound; without a subject InvalidArgument", async (t) => {
  const c = await tenant(t);
  const app = await createApp(c);
  await createRole(c, ACME, "reader", [READ]);
  await createUser(c, ACME, ALICE);
  await expectCode(t, c.admin.assignRole({ ...ACME, roleId: "reader", subject: user("nope") }, c.auth), Code.NotFound, "missing user");
  await expectCode(t, c.admin.assignRole({ ...ACME, roleId: "reader", subject: client("nope") }, c.auth), Code.NotFound, "missing client");
  await expectCode(t, c.admin.assignRole({ ...ACME, roleId: "nope", subject: user(ALICE.id) }, c.auth), Code.NotFound, "missing role for a user");
  await expectCode(t, c.admin.assignRole({ ...ACME, roleId: "nope", subject: client(app.id) }, c.auth), Code.NotFound, "missing role for a client");
  await expectCode(
    t,
    c.admin.assignRole({ organization: "acme", project: "nope", roleId: "reader", subject: user(ALICE.id) }, c.auth),
    Code.NotFound,
    "missing project",
  );
  await expectCode(t, c.admin.assignRole({ ...ACME, roleId: "reader" }, c.auth), Code.InvalidArgument, "no subject");
  t.deepEqual((await c.admin.getUser({ ...ACME, userId: ALICE.id }, c.auth)).user?.roles, []);
  t.deepEqual((await c.admin.getClient({ ...ACME, clientId: app.id }, c.auth)).client?.roles, []);
});

test("UnassignRole takes a role from a user: gone from GetUser.roles, login scopes and refreshed tokens", async (t) => {
  const c = await startAdmin(t);
  const app = await fullTenant(c, ACME);
  await createRole(c, ACME, "writer", [WRITE]);
  await c.admin.assignRole({ ...ACME, roleId: "writer", subject: user(ALICE.id) }, c.auth);
  const tokens = await userTokens(c, app, ALICE);
  t.deepEqual(scopesOf(tokens.scope), [READ, WRITE]);

  await c.admin.unassignRole({ ...ACME, roleId: "writer", subject: user(ALICE.id) }, c.auth);

  t.deepEqual((await c.admin.getUser({ ...ACME, userId: ALICE.id }, c.auth)).user?.roles, ["reader"]);
  t.deepEqual(await loginScopes(c, app, ALICE), [READ]);
  const refreshed = await refresh(c, app, tokens.refreshToken);
  t.deepEqual(scopesOf(refreshed.scope), [READ], "a refreshed token no longer carries it");

  await c.admin.unassignRole({ ...ACME, roleId: "reader", subject: user(ALICE.id) }, c.auth);
  t.deepEqual((await c.admin.getUser({ ...ACME, userId: ALICE.id }, c.auth)).user?.roles, []);
  t.deepEqual(await loginScopes(c, app, ALICE), []);
});

test("UnassignRole takes a role from a client: gone from GetClient.roles and its client_credentials scopes", async (t) => {
  const c = await startAdmin(t);
  const app = await fullTenant(c, ACME);
  await createRole(c, ACME, "writer", [WRITE]);
  await c.admin.assignRole({ ...ACME, roleId: "reader", subject: client(app.id) }, c.auth);
  await c.admin.assignRole({ ...ACME, roleId: "writer", subject: client(app.id) }, c.auth);
  t.deepEqual(scopesOf((await clientToken(c, ACME, app.id, app.secret)).scope), [READ, WRITE]);

  await c.admin.unassignRole({ ...ACME, roleId: "reader", subject: client(app.id) }, c.auth);

  t.deepEqual((await c.admin.getClient({ ...ACME, clientId: app.id }, c.auth)).client?.roles, ["writer"]);
  t.deepEqual(scopesOf((await clientToken(c, ACME, app.id, app.secret)).scope), [WRITE]);
  await expectOAuth(t, clientToken(c, ACME, app.id, app.secret, READ), "invalid_scope", Code.InvalidArgument, "asking for the lost scope");
  t.deepEqual((await c.admin.getUser({ ...ACME, userId: ALICE.id }, c.auth)).user?.roles, ["reader"], "the user keeps the role");
});

test("UnassignRole of a role not held, or of a missing user, client or role, is NotFound; without a subject InvalidArgument", async (t) => {
  const c = await startAdmin(t);
  const app = await fullTenant(c, ACME);
  await createRole(c, ACME, "writer", [WRITE]);
  await expectCode(t, c.admin.unassignRole({ ...ACME, roleId: "writer", subject: user(ALICE.id) }, c.auth), Code.NotFound, "user does not hold it");
  await expectCode(t, c.admin.unassignRole({ ...ACME, roleId: "reader", subject: client(app.id) }, c.auth), Code.NotFound, "client does not hold it");
  await expectCode(t, c.admin.unassignRole({ ...ACME, roleId: "nope", subject: user(ALICE.id) }, c.auth), Code.NotFound, "missing role");
  await expectCode(t, c.admin.unassignRole({ ...ACME, roleId: "reader", subject: user("nope") }, c.auth), Code.NotFound, "missing user");
  await expectCode(t, c.admin.unassignRole({ ...ACME, roleId: "reader", subject: client("nope") }, c.auth), Code.NotFound, "missing client");
  await expectCode(t, c.admin.unassignRole({ ...ACME, roleId: "reader" }, c.auth), Code.InvalidArgument, "no subject");
  t.deepEqual((await c.admin.getUser({ ...ACME, userId: ALICE.id }, c.auth)).user?.roles, ["reader"], "nothing changed");

  await c.admin.unassignRole({ ...ACME, roleId: "reader", subject: user(ALICE.id) }, c.auth);
  await expectCode(t, c.admin.unassignRole({ ...ACME, roleId: "reader", subject: user(ALICE.id) }, c.auth), Code.NotFound, "unassigning twice");
});
