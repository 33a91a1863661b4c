/**
 * Tenant isolation of the AdminService: every kind of caller against every
 * kind of target, each cell asserting the exact Connect code, then checking
 * as global admin that a refused call changed nothing and an allowed one did
 * what it says (callers, operations and checks: isolation-ops.ts; the world
 * they run in: isolation-support.ts, a fresh copy per test).
 *
 * admin.proto's rule: a token of iam-admins/iam-admins holding
 * iam.global.admin manages everything; a token of any *other* project
 * holding iam.project.admin manages that project only, never organizations
 * nor other projects; no token or an inactive one is UNAUTHENTICATED, any
 * other refusal PERMISSION_DENIED.
 *
 * | caller \ target                            | A (acme/a) | A2 (acme/a2) | B (globex/b) | iam-admins | global ops |
 * |--------------------------------------------|------------|--------------|--------------|------------|------------|
 * | global admin (admin-client)                | OK         | OK           | OK           | OK         | OK         |
 * | project admin of A (client_credentials)    | OK         | Denied       | Denied       | Denied     | Denied     |
 * | project admin of A (user, code flow)       | OK         | Denied       | Denied       | Denied     | Denied     |
 * | project admin of B                         | Denied     | Denied       | OK           | Denied     | Denied     |
 * | project admin of iam-admins (not global)   | Denied     | Denied       | Denied       | Denied (*) | Denied     |
 * | plain client of A (no admin permission)    | Denied     | Denied       | Denied       | Denied     | Denied     |
 * | plain user of A (no admin permission)      | Denied     | Denied       | Denied       | Denied     | Denied     |
 * | no token                                   | Unauth     | Unauth       | Unauth       | Unauth     | Unauth     |
 * | garbage token                              | Unauth     | Unauth       | Unauth       | Unauth     | Unauth     |
 * | expired global-admin token                 | Unauth     | Unauth       | Unauth       | Unauth     | Unauth     |
 *
 * Denied = PermissionDenied, Unauth = Unauthenticated.
 * (*) iam-admins is not "another project": its iam.project.admin grants
 * nothing there, since managing iam-admins (assigning its global-admin role,
 * admin-client's secret, admin's password) is global administration. The
 * server currently answers OK in these cells: see isolation-escalation.test.ts
 * for the escalation to global admin this allows.
 *
 * In-project operations (each run in A, A2, B and iam-admins): GetProject,
 * UpdateProject, CreateClient, GetClient, ListClients, UpdateClient,
 * RotateClientSecret, DeleteClient, CreateUser, GetUser, ListUsers,
 * UpdateUser, SetUserPassword, ListUserSessions, RevokeUserSession,
 * RevokeUserSessions, DeleteUser, CreatePermission, ListPermissions,
 * DeletePermission, CreateRole, ListRoles, DeleteRole, AssignRole (to a user,
 * to a client), UnassignRole.
 * Global operations: CreateOrganization, GetOrganization, ListOrganizations,
 * UpdateOrganization, DeleteOrganization (acme, globex), CreateProject (in
 * acme, in globex), ListProjects (acme, globex), DeleteProject (acme/a,
 * globex/b). GetOrganization is global-only (ADMIN_METHODS), even for the
 * caller's own organization ("never organizations").
 *
 * Escalation attempts (a project's own `iam.global.admin`, tampered tokens,
 * tokens of deleted projects, users or clients, look-alike names) are in
 * isolation-escalation.test.ts.
 */
import test from "ava";
import { A, A2, ADMINS, B, openWorld, outcomeOf, refLabel } from "./isolation-support.js";
import { CALLERS, expectedIn, GLOBAL_OPS, PROJECT_OPS } from "./isolation-ops.js";
import type { ProjectRef } from "../../core/store/types.js";

const TARGETS: Array<{ label: string; ref: ProjectRef }> = [
  { label: "A", ref: A },
  { label: "A's sibling acme/a2", ref: A2 },
  { label: "B", ref: B },
  { label: "iam-admins", ref: ADMINS },
];

for (const caller of CALLERS) {
  for (const target of TARGETS) {
    for (const op of PROJECT_OPS) {
      const expected = expectedIn(caller, target.ref);
      test(`${caller.label} → ${op.name} in ${target.label}: ${expected}`, async (t) => {
        const w = await openWorld(t);
        caller.prepare?.(w);
        let response: unknown;
        const outcome = await outcomeOf(
          op.call(w.admin, target.ref, w.as(caller.token(w))).then((r) => {
            response = r;
          }),
        );
        t.is(outcome, expected, `${op.name} in ${refLabel(target.ref)}`);
        await op.after(t, w, target.ref, outcome === "OK", response);
      });
    }
  }
}

for (const caller of CALLERS) {
  for (const op of GLOBAL_OPS) {
    const expected = expectedIn(caller, "global");
    test(`${caller.label} → ${op.name} (global): ${expected}`, async (t) => {
      const w = await openWorld(t);
      caller.prepare?.(w);
      let response: unknown;
      const outcome = await outcomeOf(
        op.call(w.admin, w.as(caller.token(w))).then((r) => {
          response = r;
        }),
      );
      t.is(outcome, expected, op.name);
      await op.after(t, w, outcome === "OK", response);
    });
  }
}
