/**
 * Attempts to climb out of a tenant: a project that names a permission
 * `iam.global.admin`, tampered and forged tokens, tokens of deleted or
 * disabled subjects and of deleted projects, and look-alike tenant names.
 * The matrix of ordinary callers is in isolation.test.ts.
 */
import test, { type ExecutionContext } from "ava";
import { decodeJwt } from "jose";
import { TokenFailure } from "../../gen/iam/v1/token_pb.js";
import type { ProjectRef } from "../../core/store/types.js";
import { GLOBAL_OPS, PROJECT_OPS } from "./isolation-ops.js";
import {
  A,
  A2,
  ADMINS,
  B,
  clientCredentials,
  exists,
  GLOBAL_ADMIN,
  issuerOf,
  loginThroughPortal,
  openWorld,
  OPS,
  outcomeOf,
  PADMIN,
  PORTAL,
  PROJECT_ADMIN,
  PROJECT_ADMIN_ROLE,
  refLabel,
  VICTIM,
  type Outcome,
  type World,
} from "./isolation-support.js";

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

/** Runs every global operation and every in-project operation in each of `refs` with the token; each must be `expected` and change nothing. */
async function assertLockedOut(t: ExecutionContext, w: World, token: string, refs: ProjectRef[], expected: Outcome): Promise<void> {
  for (const op of GLOBAL_OPS) {
    t.is(await outcomeOf(op.call(w.admin, w.as(token))), expected, `${op.name} (global)`);
    await op.after(t, w, false, undefined);
  }
  for (const ref of refs) {
    for (const op of PROJECT_OPS) {
      t.is(await outcomeOf(op.call(w.admin, ref, w.as(token))), expected, `${op.name} in ${refLabel(ref)}`);
      await op.after(t, w, ref, false, undefined);
    }
  }
}

/** As project admin of A: the permission `iam.global.admin` in A and a role `global-admin` holding it (the names iam-admins uses). */
async function forgeGlobalAdminInA(w: World): Promise<void> {
  const asAdminA = w.as(w.tokens.adminA);
  await w.admin.createPermission({ ...A, permissionId: GLOBAL_ADMIN, description: "Administer everything (not really)" }, asAdminA);
  await w.admin.createRole({ ...A, roleId: "global-admin", permissions: [GLOBAL_ADMIN] }, asAdminA);
}

test("project admin of A creates iam.global.admin in A, assigns it to itself, gets a token carrying it: still PermissionDenied on every global operation, in B and in iam-admins", async (t) => {
  const w = await openWorld(t);
  await forgeGlobalAdminInA(w);
  await w.admin.assignRole({ ...A, roleId: "global-admin", subject: { case: "clientId", value: OPS.id } }, w.as(w.tokens.adminA));

  const minted = await clientCredentials(w.c, A, OPS);
  t.deepEqual(minted.scope.split(" ").sort(), [GLOBAL_ADMIN, PROJECT_ADMIN]);
  t.deepEqual((decodeJwt(minted.accessToken).scope as string).split(" ").sort(), [GLOBAL_ADMIN, PROJECT_ADMIN]);
  const verified = await w.c.tokens.verifyToken({ token: minted.accessToken });
  t.true(verified.active);
  t.true(verified.scopes.includes(GLOBAL_ADMIN));
  t.deepEqual({ organization: verified.organization, project: verified.project }, A);

  await assertLockedOut(t, w, minted.accessToken, [A2, B, ADMINS], "PermissionDenied");
  // Its own project it still administers, as before.
  t.is(await outcomeOf(w.admin.getProject({ ...A }, w.as(minted.accessToken))), "OK");
});

test("a token of A carrying only the forged iam.global.admin is not even an admin of A: PermissionDenied everywhere", async (t) => {
  const w = await openWorld(t);
  await forgeGlobalAdminInA(w);
  await w.admin.assignRole({ ...A, roleId: "global-admin", subject: { case: "clientId", value: OPS.id } }, w.as(w.tokens.adminA));

  const minted = await clientCredentials(w.c, A, OPS, GLOBAL_ADMIN);
  t.is(minted.scope, GLOBAL_ADMIN);
  await assertLockedOut(t, w, minted.accessToken, [A, A2, B, ADMINS], "PermissionDenied");
});

test("a user of A given the forged iam.global.admin, logged in through the code flow, is still PermissionDenied outside A", async (t) => {
  const w = await openWorld(t);
  await forgeGlobalAdminInA(w);
  await w.admin.assignRole({ ...A, roleId: "global-admin", subject: { case: "userId", value: PADMIN.id } }, w.as(w.tokens.adminA));

  const minted = await loginThroughPortal(w.c, A, PADMIN, `${GLOBAL_ADMIN} ${PROJECT_ADMIN}`);
  t.is(minted.scope, `${GLOBAL_ADMIN} ${PROJECT_ADMIN}`);
  const claims = decodeJwt(minted.accessToken);
  t.is(claims.sub, PADMIN.id);
  t.is(claims.iss, issuerOf(A));

  await assertLockedOut(t, w, minted.accessToken, [A2, B, ADMINS], "PermissionDenied");
  t.is(await outcomeOf(w.admin.listUsers({ ...A }, w.as(minted.accessToken))), "OK");
});

test("a token of A holding iam.project.admin cannot act on iam-admins, not even on its namesake client `ops` there", async (t) => {
  const w = await openWorld(t);
  const asAdminA = w.as(w.tokens.adminA);
  t.true((await w.c.tokens.verifyToken({ token: w.tokens.adminA })).scopes.includes(PROJECT_ADMIN));

  t.is(
    await outcomeOf(w.admin.assignRole({ ...ADMINS, roleId: "global-admin", subject: { case: "clientId", value: OPS.id } }, asAdminA)),
    "PermissionDenied",
  );
  t.is(await outcomeOf(w.admin.rotateClientSecret({ ...ADMINS, clientId: "admin-client", secret: "x".repeat(32) }, asAdminA)), "PermissionDenied");
  t.is(await outcomeOf(w.admin.setUserPassword({ ...ADMINS, userId: "admin", password: "hijacked-password" }, asAdminA)), "PermissionDenied");
  t.is(await outcomeOf(w.admin.deleteRole({ ...ADMINS, roleId: "global-admin" }, asAdminA)), "PermissionDenied");

  const asGlobal = await w.asGlobal();
  const ops = (await w.admin.getClient({ ...ADMINS, clientId: OPS.id }, asGlobal)).client!;
  t.deepEqual(ops.roles, [PROJECT_ADMIN_ROLE], "iam-admins' ops did not get global-admin");
  t.is(await outcomeOf(clientCredentials(w.c, ADMINS, { id: "admin-client", secret: "top-secret" })), "OK", "admin-client's secret unchanged");
  t.true(await exists(w.admin.getUser({ ...ADMINS, userId: "admin" }, asGlobal)));
  t.true((await w.admin.listRoles({ ...ADMINS }, asGlobal)).roles.some((r) => r.id === "global-admin"));
});

test("a project admin of iam-admins that is not a global admin cannot touch A, B or any global operation", async (t) => {
  const w = await openWorld(t);
  const verified = await w.c.tokens.verifyToken({ token: w.tokens.adminAdmins });
  t.deepEqual(verified.scopes, [PROJECT_ADMIN]);
  t.deepEqual({ organization: verified.organization, project: verified.project }, ADMINS);

  await assertLockedOut(t, w, w.tokens.adminAdmins, [A, A2, B], "PermissionDenied");
});

test("a project admin of iam-admins cannot make itself a global admin (admin.proto: iam.project.admin counts in projects other than iam-admins)", async (t) => {
  const w = await openWorld(t);
  const asAdminAdmins = w.as(w.tokens.adminAdmins);
  const attempts: Record<string, () => Promise<unknown>> = {
    "AssignRole global-admin to itself": () =>
      w.admin.assignRole({ ...ADMINS, roleId: "global-admin", subject: { case: "clientId", value: OPS.id } }, asAdminAdmins),
    "RotateClientSecret of admin-client": () =>
      w.admin.rotateClientSecret({ ...ADMINS, clientId: "admin-client", secret: "taken-over-secret-0001" }, asAdminAdmins),
    "SetUserPassword of admin": () => w.admin.setUserPassword({ ...ADMINS, userId: "admin", password: "taken-over-password" }, asAdminAdmins),
    "UpdateClient admin-client's redirect URIs": () =>
      w.admin.updateClient(
        { ...ADMINS, clientId: "admin-client", redirectUris: ["https://attacker.example/cb"], updateMask: { paths: ["redirect_uris"] } },
        asAdminAdmins,
      ),
  };
  const observed: Record<string, unknown> = {};
  const expected: Record<string, unknown> = {};
  for (const [name, attempt] of Object.entries(attempts)) {
    observed[name] = await outcomeOf(attempt());
    expected[name] = "PermissionDenied";
  }
  // Whatever went through, no token it can get afterwards may be a global admin's.
  const own = await clientCredentials(w.c, ADMINS, OPS);
  observed["its next token carries iam.global.admin"] = own.scope.split(" ").includes(GLOBAL_ADMIN);
  expected["its next token carries iam.global.admin"] = false;
  observed["its next token → GetProject in A"] = await outcomeOf(w.admin.getProject({ ...A }, w.as(own.accessToken)));
  expected["its next token → GetProject in A"] = "PermissionDenied";
  observed["admin-client with the secret it chose"] = await outcomeOf(
    clientCredentials(w.c, ADMINS, { id: "admin-client", secret: "taken-over-secret-0001" }),
  );
  expected["admin-client with the secret it chose"] = "Unauthenticated";
  t.deepEqual(observed, expected, "every step towards global administration is refused");

  const asGlobal = await w.asGlobal();
  t.deepEqual((await w.admin.getClient({ ...ADMINS, clientId: OPS.id }, asGlobal)).client!.roles, [PROJECT_ADMIN_ROLE]);
  t.deepEqual((await w.admin.getClient({ ...ADMINS, clientId: "admin-client" }, asGlobal)).client!.redirectUris, [
    `${issuerOf(ADMINS)}/redirect`,
  ]);
});

test("refusals do not tell whether the target exists: the same code for an existing and a missing project, user or client", async (t) => {
  const w = await openWorld(t);
  const asAdminA = w.as(w.tokens.adminA);
  const missing: ProjectRef = { organization: B.organization, project: "no-such-project" };
  t.is(await outcomeOf(w.admin.getProject({ ...B }, asAdminA)), "PermissionDenied");
  t.is(await outcomeOf(w.admin.getProject({ ...missing }, asAdminA)), "PermissionDenied");
  t.is(await outcomeOf(w.admin.getProject({ organization: "no-such-org", project: "x" }, asAdminA)), "PermissionDenied");
  t.is(await outcomeOf(w.admin.getUser({ ...B, userId: VICTIM.id }, asAdminA)), "PermissionDenied");
  t.is(await outcomeOf(w.admin.getUser({ ...B, userId: "no-such-user" }, asAdminA)), "PermissionDenied");
  t.is(await outcomeOf(w.admin.getClient({ ...B, clientId: OPS.id }, asAdminA)), "PermissionDenied");
  t.is(await outcomeOf(w.admin.getClient({ ...B, clientId: "no-such-client" }, asAdminA)), "PermissionDenied");
  t.is(await outcomeOf(w.admin.getOrganization({ id: B.organization }, asAdminA)), "PermissionDenied");
  t.is(await outcomeOf(w.admin.getOrganization({ id: "no-such-org" }, asAdminA)), "PermissionDenied");
  t.is(await outcomeOf(w.admin.getProject({ ...B })), "Unauthenticated");
  t.is(await outcomeOf(w.admin.getProject({ ...missing })), "Unauthenticated");
});

test("a project admin user who loses project-admin gets no iam.project.admin from a refresh, and is refused", async (t) => {
  const w = await openWorld(t);
  const login = await loginThroughPortal(w.c, A, PADMIN);
  t.is(login.scope, PROJECT_ADMIN);
  await w.admin.unassignRole({ ...A, roleId: PROJECT_ADMIN_ROLE, subject: { case: "userId", value: PADMIN.id } }, await w.asGlobal());
  const refreshed = await w.c.tokens.token({
    ...A,
    grantType: "refresh_token",
    refreshToken: login.refreshToken,
    basic: { clientId: PORTAL.id, clientSecret: PORTAL.secret },
  });
  t.false(refreshed.scope.split(" ").includes(PROJECT_ADMIN), `refreshed scope: ${refreshed.scope}`);
  t.is(await outcomeOf(w.admin.listUsers({ ...A }, w.as(refreshed.accessToken))), "PermissionDenied");
});

test("after DeleteProject, a token of that project is Unauthenticated, also once a project of the same name is created again", async (t) => {
  const w = await openWorld(t);
  const asGlobal = await w.asGlobal();
  await w.admin.deleteProject({ ...A }, asGlobal);

  for (const token of [w.tokens.adminA, w.tokens.adminAUser, w.tokens.plainClientA]) {
    t.is(await outcomeOf(w.admin.getProject({ ...A }, w.as(token))), "Unauthenticated");
    t.is(await outcomeOf(w.admin.listOrganizations({}, w.as(token))), "Unauthenticated");
    t.is(await outcomeOf(w.admin.getProject({ ...B }, w.as(token))), "Unauthenticated");
    t.false((await w.c.tokens.verifyToken({ token })).active);
  }

  // Same organization and id again: new keys, no grants; the old token stays dead.
  await w.admin.createProject({ organization: A.organization, id: A.project }, asGlobal);
  t.is(await outcomeOf(w.admin.getProject({ ...A }, w.as(w.tokens.adminA))), "Unauthenticated");
  t.is(await outcomeOf(w.admin.createUser({ ...A, userId: "zombie", password: "zombie-password" }, w.as(w.tokens.adminA))), "Unauthenticated");
  t.false(await exists(w.admin.getUser({ ...A, userId: "zombie" }, await w.asGlobal())));
});

test("after DeleteOrganization, the tokens of its projects are Unauthenticated", async (t) => {
  const w = await openWorld(t);
  await w.admin.deleteOrganization({ id: B.organization }, await w.asGlobal());
  t.is(await outcomeOf(w.admin.getProject({ ...B }, w.as(w.tokens.adminB))), "Unauthenticated");
  t.is(await outcomeOf(w.admin.createOrganization({ id: B.organization }, w.as(w.tokens.adminB))), "Unauthenticated");
  t.false(await exists(w.admin.getOrganization({ id: B.organization }, await w.asGlobal())));
});

test("a project admin's token is Unauthenticated once its client is deleted", async (t) => {
  const w = await openWorld(t);
  t.is(await outcomeOf(w.admin.getProject({ ...A }, w.as(w.tokens.adminA))), "OK");
  await w.admin.deleteClient({ ...A, clientId: OPS.id }, await w.asGlobal());
  t.is(await outcomeOf(w.admin.getProject({ ...A }, w.as(w.tokens.adminA))), "Unauthenticated");
});

test("a project admin user's token is Unauthenticated once the user is disabled", async (t) => {
  const w = await openWorld(t);
  t.is(await outcomeOf(w.admin.listUsers({ ...A }, w.as(w.tokens.adminAUser))), "OK");
  await w.admin.updateUser({ ...A, userId: PADMIN.id, enabled: false, updateMask: { paths: ["enabled"] } }, await w.asGlobal());
  t.is(await outcomeOf(w.admin.listUsers({ ...A }, w.as(w.tokens.adminAUser))), "Unauthenticated");
});

test("a project admin user's token is Unauthenticated once the user is deleted", async (t) => {
  const w = await openWorld(t);
  await w.admin.deleteUser({ ...A, userId: PADMIN.id }, await w.asGlobal());
  t.is(await outcomeOf(w.admin.listUsers({ ...A }, w.as(w.tokens.adminAUser))), "Unauthenticated");
});

test("a project admin who loses project-admin gets a next token without iam.project.admin, refused in its own project", async (t) => {
  const w = await openWorld(t);
  await w.admin.unassignRole({ ...A, roleId: PROJECT_ADMIN_ROLE, subject: { case: "clientId", value: OPS.id } }, await w.asGlobal());
  // OPS now holds no role at all: every scope it asks for is refused, and asking for none gives an empty scope.
  const next = await clientCredentials(w.c, A, OPS);
  t.is(next.scope, "");
  t.is(await outcomeOf(w.admin.getProject({ ...A }, w.as(next.accessToken))), "PermissionDenied");
  t.is(await outcomeOf(clientCredentials(w.c, A, OPS, PROJECT_ADMIN)), "InvalidArgument");
});

test("tampered and forged tokens claiming global administration are Unauthenticated", async (t) => {
  const w = await openWorld(t);
  const [header, payload, signature] = w.tokens.adminA.split(".") as [string, string, string];
  const claims = decodeJwt(w.tokens.adminA);
  const globalClaims = decodeJwt(w.tokens.global);
  const asGlobalAdmin = { ...claims, iss: issuerOf(ADMINS), scope: `${GLOBAL_ADMIN} ${PROJECT_ADMIN}` };

  const forged: Record<string, string> = {
    // A's signature over a payload rewritten to iam-admins with the global scope.
    "A's token with iss and scope rewritten": `${header}.${b64url(asGlobalAdmin)}.${signature}`,
    // A's token with only the scope widened (same issuer, bad signature).
    "A's token with the scope widened": `${header}.${b64url({ ...claims, scope: GLOBAL_ADMIN })}.${signature}`,
    // Unsigned (alg none) copy of the real global admin token's claims.
    "alg none with the global admin's claims": `${b64url({ alg: "none", typ: "at+jwt" })}.${b64url(globalClaims)}.`,
    // The real global token with its signature cut off.
    "the global token without signature": w.tokens.global.split(".").slice(0, 2).join(".") + ".",
    // The global token's header and signature over A's payload.
    "global header and signature over A's claims": `${w.tokens.global.split(".")[0]}.${payload}.${w.tokens.global.split(".")[2]}`,
  };
  for (const [name, token] of Object.entries(forged)) {
    const verified = await w.c.tokens.verifyToken({ token });
    t.false(verified.active, name);
    t.is(verified.failure, TokenFailure.INVALID, name);
    t.is(await outcomeOf(w.admin.listOrganizations({}, w.as(token))), "Unauthenticated", name);
    t.is(await outcomeOf(w.admin.createOrganization({ id: "forged-org" }, w.as(token))), "Unauthenticated", name);
    t.is(await outcomeOf(w.admin.createUser({ ...ADMINS, userId: "forged", password: "forged-password" }, w.as(token))), "Unauthenticated", name);
  }
  const asGlobal = await w.asGlobal();
  t.false(await exists(w.admin.getOrganization({ id: "forged-org" }, asGlobal)));
  t.false(await exists(w.admin.getUser({ ...ADMINS, userId: "forged" }, asGlobal)));
});

test("an authorization header that is not a Bearer access token is Unauthenticated", async (t) => {
  const w = await openWorld(t);
  const headers: Record<string, string> = {
    "admin-client's credentials as Basic": `Basic ${Buffer.from("admin-client:top-secret").toString("base64")}`,
    "Bearer without token": "Bearer ",
    "the token without scheme": w.tokens.global,
    "two tokens": `Bearer ${w.tokens.adminA} ${w.tokens.global}`,
    "a refresh-token-like opaque string": `Bearer ${"A".repeat(43)}`,
  };
  for (const [name, authorization] of Object.entries(headers)) {
    t.is(await outcomeOf(w.admin.listOrganizations({}, { headers: { authorization } })), "Unauthenticated", name);
    t.is(await outcomeOf(w.admin.getProject({ ...A }, { headers: { authorization } })), "Unauthenticated", name);
  }
});

test("project admin of acme/a is PermissionDenied on a project also named `a` in globex, and on look-alike names of its own", async (t) => {
  const w = await openWorld(t);
  const twin: ProjectRef = { organization: B.organization, project: A.project };
  await w.admin.createProject({ organization: twin.organization, id: twin.project }, await w.asGlobal());
  const asAdminA = w.as(w.tokens.adminA);

  for (const ref of [twin, { organization: "ACME", project: "a" }, { organization: "acme", project: "A" }, { organization: "acme ", project: "a" }, { organization: "acme/a", project: "" }]) {
    t.is(await outcomeOf(w.admin.getProject({ ...ref }, asAdminA)), "PermissionDenied", refLabel(ref));
    t.is(await outcomeOf(w.admin.createUser({ ...ref, userId: "intruder", password: "intruder-password" }, asAdminA)), "PermissionDenied", refLabel(ref));
  }
  t.false(await exists(w.admin.getUser({ ...twin, userId: "intruder" }, await w.asGlobal())));
  t.is(await outcomeOf(w.admin.getUser({ ...A, userId: VICTIM.id }, asAdminA)), "OK");
});

test("a project admin of A cannot create in A a permission or role that reaches another project", async (t) => {
  const w = await openWorld(t);
  const asAdminA = w.as(w.tokens.adminA);
  // A role of A may only hold permissions of A: B's permission is unknown here.
  await w.admin.createPermission({ ...B, permissionId: "globex.vault.open" }, await w.asGlobal());
  t.is(await outcomeOf(w.admin.createRole({ ...A, roleId: "borrowed", permissions: ["globex.vault.open"] }, asAdminA)), "InvalidArgument");
  // Naming iam-admins' admin-client in A finds no such client in A.
  t.is(
    await outcomeOf(w.admin.assignRole({ ...A, roleId: PROJECT_ADMIN_ROLE, subject: { case: "clientId", value: "admin-client" } }, asAdminA)),
    "NotFound",
  );
  // Tokens of B's ops are unaffected by anything done in A.
  t.deepEqual((await clientCredentials(w.c, B, OPS)).scope, PROJECT_ADMIN);
});
