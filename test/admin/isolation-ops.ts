/**
 * The callers and operations of the tenant-isolation matrix
 * (isolation.test.ts), also used by isolation-escalation.test.ts. Each
 * operation knows how to check, as global admin, whether it took effect.
 */
import type { ExecutionContext } from "ava";
import type { CallOptions } from "@connectrpc/connect";
import { ClientType } from "../../gen/iam/v1/admin_pb.js";
import type { ProjectRef } from "../../core/store/types.js";
import {
  A,
  A2,
  ADMINS,
  B,
  clientCredentials,
  exists,
  HOLDER,
  outcomeOf,
  passwordWorks,
  PROJECT_ADMIN_ROLE,
  READ,
  READER_ROLE,
  refLabel,
  VICTIM,
  VICTIM_SESSIONS,
  VICTIM_APP,
  type AdminClient,
  type Outcome,
  type World,
} from "./isolation-support.js";

// ---------------------------------------------------------------- callers

export interface Caller {
  label: string;
  token(w: World): string | undefined;
  /** Runs before the call (the expired token moves the clock). */
  prepare?(w: World): void;
  /** The project it administers, if any. */
  home?: ProjectRef;
  global?: true;
  /** Without an active token. */
  anonymous?: true;
}

export const CALLERS: Caller[] = [
  { label: "global admin", token: (w) => w.tokens.global, global: true },
  { label: "project admin of A (client_credentials)", token: (w) => w.tokens.adminA, home: A },
  { label: "project admin of A (user login)", token: (w) => w.tokens.adminAUser, home: A },
  { label: "project admin of B", token: (w) => w.tokens.adminB, home: B },
  { label: "project admin of iam-admins (not global)", token: (w) => w.tokens.adminAdmins, home: ADMINS },
  { label: "plain client of A", token: (w) => w.tokens.plainClientA },
  { label: "plain user of A", token: (w) => w.tokens.plainUserA },
  { label: "no token", token: () => undefined, anonymous: true },
  { label: "garbage token", token: () => "garbage-not-a-token.0123456789", anonymous: true },
  {
    label: "expired global-admin token",
    token: (w) => w.tokens.global,
    // admin-client's tokens live 600 s.
    prepare: (w) => w.c.clock.advance(601),
    anonymous: true,
  },
];

export const sameProject = (x: ProjectRef, y: ProjectRef) => x.organization === y.organization && x.project === y.project;

/**
 * admin.proto: iam.global.admin of iam-admins manages everything; "a token of
 * any *other* project holding iam.project.admin may manage that project
 * only". iam-admins itself is not such a project: its iam.project.admin
 * grants nothing, and must not, since managing iam-admins (assigning its
 * global-admin role, rotating admin-client's secret, setting admin's
 * password) is global administration under another name.
 */
export function expectedIn(caller: Caller, target: ProjectRef | "global"): Outcome {
  if (caller.anonymous) return "Unauthenticated";
  if (caller.global) return "OK";
  if (target === "global" || caller.home === undefined) return "PermissionDenied";
  return sameProject(caller.home, target) && !sameProject(caller.home, ADMINS) ? "OK" : "PermissionDenied";
}

// ---------------------------------------------------------------- in-project operations

export interface ProjectOp {
  name: string;
  call(admin: AdminClient, ref: ProjectRef, options: CallOptions): Promise<unknown>;
  /**
   * Checks, as global admin, the state after the call: `applied` says whether
   * the call was allowed (its effect must be there) or refused (nothing changed).
   * `response` is the answer of an allowed call.
   */
  after(t: ExecutionContext, w: World, ref: ProjectRef, applied: boolean, response: unknown): Promise<void>;
}

/** Typed construction of a ProjectOp (the response type stays inside). */
function projectOp<R>(spec: {
  name: string;
  call(admin: AdminClient, ref: ProjectRef, options: CallOptions): Promise<R>;
  after(t: ExecutionContext, w: World, ref: ProjectRef, applied: boolean, response: R | undefined): Promise<void>;
}): ProjectOp {
  return spec as ProjectOp;
}

export const INTRUDER_CLIENT = "intruder-app";
export const INTRUDER_USER = "intruder";
export const INTRUDER_PERMISSION = "intruder.files.steal";
export const INTRUDER_ROLE = "intruder-role";
export const HIJACKED = "Hijacked";

export async function userOf(w: World, ref: ProjectRef, userId: string) {
  return (await w.admin.getUser({ ...ref, userId }, await w.asGlobal())).user!;
}
export async function clientOf(w: World, ref: ProjectRef, clientId: string) {
  return (await w.admin.getClient({ ...ref, clientId }, await w.asGlobal())).client!;
}
async function victimSessionIds(w: World, ref: ProjectRef) {
  return (await w.admin.listUserSessions({ ...ref, userId: VICTIM.id }, await w.asGlobal())).sessions.map((s) => s.id);
}
export async function permissionIds(w: World, ref: ProjectRef) {
  return (await w.admin.listPermissions({ ...ref, pageSize: 1000 }, await w.asGlobal())).permissions.map((p) => p.id);
}
export async function roleIds(w: World, ref: ProjectRef) {
  return (await w.admin.listRoles({ ...ref, pageSize: 1000 }, await w.asGlobal())).roles.map((r) => r.id);
}
/** Every listed object belongs to the project asked for. */
function allIn(t: ExecutionContext, ref: ProjectRef, items: Array<{ organization: string; project: string }>) {
  t.true(items.length > 0);
  for (const item of items) t.deepEqual({ organization: item.organization, project: item.project }, ref, "an object of another project was listed");
}

export const PROJECT_OPS: ProjectOp[] = [
  projectOp({
    name: "GetProject",
    call: (admin, ref, o) => admin.getProject({ ...ref }, o),
    async after(t, _w, ref, applied, res) {
      if (applied) t.deepEqual({ organization: res!.project!.organization, project: res!.project!.id }, ref);
    },
  }),
  projectOp({
    name: "UpdateProject",
    call: (admin, ref, o) => admin.updateProject({ ...ref, name: HIJACKED, updateMask: { paths: ["name"] } }, o),
    async after(t, w, ref, applied) {
      const { project } = await w.admin.getProject({ ...ref }, await w.asGlobal());
      t.is(project!.name === HIJACKED, applied, "project name changed iff allowed");
    },
  }),
  projectOp({
    name: "CreateClient",
    call: (admin, ref, o) =>
      admin.createClient({ ...ref, clientId: INTRUDER_CLIENT, type: ClientType.CONFIDENTIAL, grantTypes: ["client_credentials"] }, o),
    async after(t, w, ref, applied, res) {
      t.is(await exists(w.admin.getClient({ ...ref, clientId: INTRUDER_CLIENT }, await w.asGlobal())), applied, "client exists iff allowed");
      if (applied) t.true(res!.secret.length > 0);
    },
  }),
  projectOp({
    name: "GetClient",
    call: (admin, ref, o) => admin.getClient({ ...ref, clientId: VICTIM_APP.id }, o),
    async after(t, _w, ref, applied, res) {
      if (applied) t.deepEqual({ organization: res!.client!.organization, project: res!.client!.project, id: res!.client!.id }, { ...ref, id: VICTIM_APP.id });
    },
  }),
  projectOp({
    name: "ListClients",
    call: (admin, ref, o) => admin.listClients({ ...ref, pageSize: 1000 }, o),
    async after(t, _w, ref, applied, res) {
      if (!applied) return;
      allIn(t, ref, res!.clients);
      t.true(res!.clients.some((c) => c.id === VICTIM_APP.id));
    },
  }),
  projectOp({
    name: "UpdateClient",
    call: (admin, ref, o) => admin.updateClient({ ...ref, clientId: VICTIM_APP.id, name: HIJACKED, updateMask: { paths: ["name"] } }, o),
    async after(t, w, ref, applied) {
      t.is((await clientOf(w, ref, VICTIM_APP.id)).name === HIJACKED, applied, "client name changed iff allowed");
    },
  }),
  projectOp({
    name: "RotateClientSecret",
    call: (admin, ref, o) => admin.rotateClientSecret({ ...ref, clientId: VICTIM_APP.id }, o),
    async after(t, w, ref, applied, res) {
      const old = await outcomeOf(clientCredentials(w.c, ref, VICTIM_APP));
      t.is(old, applied ? "Unauthenticated" : "OK", "the old secret works iff the rotation was refused");
      if (applied) t.is(await outcomeOf(clientCredentials(w.c, ref, { id: VICTIM_APP.id, secret: res!.secret })), "OK");
    },
  }),
  projectOp({
    name: "DeleteClient",
    call: (admin, ref, o) => admin.deleteClient({ ...ref, clientId: VICTIM_APP.id }, o),
    async after(t, w, ref, applied) {
      t.is(await exists(w.admin.getClient({ ...ref, clientId: VICTIM_APP.id }, await w.asGlobal())), !applied, "client gone iff allowed");
    },
  }),
  projectOp({
    name: "CreateUser",
    call: (admin, ref, o) => admin.createUser({ ...ref, userId: INTRUDER_USER, password: "intruder-password" }, o),
    async after(t, w, ref, applied) {
      t.is(await exists(w.admin.getUser({ ...ref, userId: INTRUDER_USER }, await w.asGlobal())), applied, "user exists iff allowed");
    },
  }),
  projectOp({
    name: "GetUser",
    call: (admin, ref, o) => admin.getUser({ ...ref, userId: VICTIM.id }, o),
    async after(t, _w, ref, applied, res) {
      if (applied) t.deepEqual({ organization: res!.user!.organization, project: res!.user!.project, id: res!.user!.id }, { ...ref, id: VICTIM.id });
    },
  }),
  projectOp({
    name: "ListUsers",
    call: (admin, ref, o) => admin.listUsers({ ...ref, pageSize: 1000 }, o),
    async after(t, _w, ref, applied, res) {
      if (!applied) return;
      allIn(t, ref, res!.users);
      t.true(res!.users.some((u) => u.id === VICTIM.id));
    },
  }),
  projectOp({
    name: "UpdateUser",
    call: (admin, ref, o) => admin.updateUser({ ...ref, userId: VICTIM.id, enabled: false, updateMask: { paths: ["enabled"] } }, o),
    async after(t, w, ref, applied) {
      t.is((await userOf(w, ref, VICTIM.id)).enabled, !applied, "user disabled iff allowed");
    },
  }),
  projectOp({
    name: "SetUserPassword",
    call: (admin, ref, o) => admin.setUserPassword({ ...ref, userId: VICTIM.id, password: "hijacked-password" }, o),
    async after(t, w, ref, applied) {
      t.is(await passwordWorks(w.c, ref, VICTIM), !applied, "the old password works iff the change was refused");
      t.is(await passwordWorks(w.c, ref, { id: VICTIM.id, password: "hijacked-password" }), applied);
    },
  }),
  projectOp({
    name: "ListUserSessions",
    call: (admin, ref, o) => admin.listUserSessions({ ...ref, userId: VICTIM.id }, o),
    async after(t, _w, ref, applied, res) {
      if (applied) t.deepEqual(res!.sessions.map((s) => s.id), [VICTIM_SESSIONS.get(refLabel(ref))]);
    },
  }),
  projectOp({
    name: "RevokeUserSession",
    call: (admin, ref, o) => admin.revokeUserSession({ ...ref, userId: VICTIM.id, sessionId: VICTIM_SESSIONS.get(refLabel(ref))! }, o),
    async after(t, w, ref, applied) {
      t.is((await victimSessionIds(w, ref)).includes(VICTIM_SESSIONS.get(refLabel(ref))!), !applied, "the session ended iff allowed");
    },
  }),
  projectOp({
    name: "RevokeUserSessions",
    call: (admin, ref, o) => admin.revokeUserSessions({ ...ref, userId: VICTIM.id }, o),
    async after(t, w, ref, applied, res) {
      t.is((await victimSessionIds(w, ref)).includes(VICTIM_SESSIONS.get(refLabel(ref))!), !applied, "the sessions ended iff allowed");
      if (applied) t.deepEqual(res!.sessionIds, [VICTIM_SESSIONS.get(refLabel(ref))]);
    },
  }),
  projectOp({
    name: "DeleteUser",
    call: (admin, ref, o) => admin.deleteUser({ ...ref, userId: VICTIM.id }, o),
    async after(t, w, ref, applied) {
      t.is(await exists(w.admin.getUser({ ...ref, userId: VICTIM.id }, await w.asGlobal())), !applied, "user gone iff allowed");
    },
  }),
  projectOp({
    name: "CreatePermission",
    call: (admin, ref, o) => admin.createPermission({ ...ref, permissionId: INTRUDER_PERMISSION }, o),
    async after(t, w, ref, applied) {
      t.is((await permissionIds(w, ref)).includes(INTRUDER_PERMISSION), applied, "permission exists iff allowed");
    },
  }),
  projectOp({
    name: "ListPermissions",
    call: (admin, ref, o) => admin.listPermissions({ ...ref, pageSize: 1000 }, o),
    async after(t, _w, ref, applied, res) {
      if (!applied) return;
      allIn(t, ref, res!.permissions);
      t.true(res!.permissions.some((p) => p.id === READ));
    },
  }),
  projectOp({
    name: "DeletePermission",
    call: (admin, ref, o) => admin.deletePermission({ ...ref, permissionId: READ }, o),
    async after(t, w, ref, applied) {
      t.is((await permissionIds(w, ref)).includes(READ), !applied, "permission gone iff allowed");
    },
  }),
  projectOp({
    name: "CreateRole",
    call: (admin, ref, o) => admin.createRole({ ...ref, roleId: INTRUDER_ROLE, permissions: [READ] }, o),
    async after(t, w, ref, applied) {
      t.is((await roleIds(w, ref)).includes(INTRUDER_ROLE), applied, "role exists iff allowed");
    },
  }),
  projectOp({
    name: "ListRoles",
    call: (admin, ref, o) => admin.listRoles({ ...ref, pageSize: 1000 }, o),
    async after(t, _w, ref, applied, res) {
      if (!applied) return;
      allIn(t, ref, res!.roles);
      t.true(res!.roles.some((r) => r.id === READER_ROLE));
    },
  }),
  projectOp({
    name: "DeleteRole",
    call: (admin, ref, o) => admin.deleteRole({ ...ref, roleId: READER_ROLE }, o),
    async after(t, w, ref, applied) {
      t.is((await roleIds(w, ref)).includes(READER_ROLE), !applied, "role gone iff allowed");
    },
  }),
  projectOp({
    name: "AssignRole (project-admin to a user)",
    call: (admin, ref, o) => admin.assignRole({ ...ref, roleId: PROJECT_ADMIN_ROLE, subject: { case: "userId", value: VICTIM.id } }, o),
    async after(t, w, ref, applied) {
      t.is((await userOf(w, ref, VICTIM.id)).roles.includes(PROJECT_ADMIN_ROLE), applied, "role assigned iff allowed");
    },
  }),
  projectOp({
    name: "AssignRole (project-admin to a client)",
    call: (admin, ref, o) =>
      admin.assignRole({ ...ref, roleId: PROJECT_ADMIN_ROLE, subject: { case: "clientId", value: VICTIM_APP.id } }, o),
    async after(t, w, ref, applied) {
      t.is((await clientOf(w, ref, VICTIM_APP.id)).roles.includes(PROJECT_ADMIN_ROLE), applied, "role assigned iff allowed");
    },
  }),
  projectOp({
    name: "UnassignRole",
    call: (admin, ref, o) => admin.unassignRole({ ...ref, roleId: READER_ROLE, subject: { case: "userId", value: HOLDER.id } }, o),
    async after(t, w, ref, applied) {
      t.is((await userOf(w, ref, HOLDER.id)).roles.includes(READER_ROLE), !applied, "role taken away iff allowed");
    },
  }),
];

// ---------------------------------------------------------------- global operations

export interface GlobalOp {
  name: string;
  call(admin: AdminClient, options: CallOptions): Promise<unknown>;
  after(t: ExecutionContext, w: World, applied: boolean, response: unknown): Promise<void>;
}

function globalOp<R>(spec: {
  name: string;
  call(admin: AdminClient, options: CallOptions): Promise<R>;
  after(t: ExecutionContext, w: World, applied: boolean, response: R | undefined): Promise<void>;
}): GlobalOp {
  return spec as GlobalOp;
}

export const orgExists = async (w: World, id: string) => exists(w.admin.getOrganization({ id }, await w.asGlobal()));
export const projectExists = async (w: World, ref: ProjectRef) => exists(w.admin.getProject({ ...ref }, await w.asGlobal()));

export const GLOBAL_OPS: GlobalOp[] = [
  globalOp({
    name: "CreateOrganization",
    call: (admin, o) => admin.createOrganization({ id: "intruder-org" }, o),
    async after(t, w, applied) {
      t.is(await orgExists(w, "intruder-org"), applied, "organization exists iff allowed");
    },
  }),
  globalOp({
    name: "GetOrganization acme",
    call: (admin, o) => admin.getOrganization({ id: A.organization }, o),
    async after(t, _w, applied, res) {
      if (applied) t.is(res!.organization!.id, A.organization);
    },
  }),
  globalOp({
    name: "ListOrganizations",
    call: (admin, o) => admin.listOrganizations({ pageSize: 1000 }, o),
    async after(t, _w, applied, res) {
      if (applied) t.deepEqual(res!.organizations.map((org) => org.id), [A.organization, B.organization, ADMINS.organization]);
    },
  }),
  globalOp({
    name: "UpdateOrganization acme",
    call: (admin, o) => admin.updateOrganization({ id: A.organization, name: HIJACKED }, o),
    async after(t, w, applied) {
      const { organization } = await w.admin.getOrganization({ id: A.organization }, await w.asGlobal());
      t.is(organization!.name === HIJACKED, applied, "organization renamed iff allowed");
    },
  }),
  globalOp({
    name: "DeleteOrganization acme",
    call: (admin, o) => admin.deleteOrganization({ id: A.organization }, o),
    async after(t, w, applied) {
      t.is(await orgExists(w, A.organization), !applied, "organization gone iff allowed");
      t.is(await projectExists(w, A), !applied, "its project gone iff allowed");
    },
  }),
  globalOp({
    name: "DeleteOrganization globex",
    call: (admin, o) => admin.deleteOrganization({ id: B.organization }, o),
    async after(t, w, applied) {
      t.is(await orgExists(w, B.organization), !applied, "organization gone iff allowed");
      t.is(await projectExists(w, B), !applied, "its project gone iff allowed");
    },
  }),
  globalOp({
    name: "CreateProject in acme",
    call: (admin, o) => admin.createProject({ organization: A.organization, id: "intruder" }, o),
    async after(t, w, applied) {
      t.is(await projectExists(w, { organization: A.organization, project: "intruder" }), applied, "project exists iff allowed");
    },
  }),
  globalOp({
    name: "CreateProject in globex",
    call: (admin, o) => admin.createProject({ organization: B.organization, id: "intruder" }, o),
    async after(t, w, applied) {
      t.is(await projectExists(w, { organization: B.organization, project: "intruder" }), applied, "project exists iff allowed");
    },
  }),
  globalOp({
    name: "ListProjects acme",
    call: (admin, o) => admin.listProjects({ organization: A.organization }, o),
    async after(t, _w, applied, res) {
      if (applied) t.deepEqual(res!.projects.map((p) => p.id), [A.project, A2.project]);
    },
  }),
  globalOp({
    name: "ListProjects globex",
    call: (admin, o) => admin.listProjects({ organization: B.organization }, o),
    async after(t, _w, applied, res) {
      if (applied) t.deepEqual(res!.projects.map((p) => p.id), [B.project]);
    },
  }),
  globalOp({
    name: "DeleteProject acme/a",
    call: (admin, o) => admin.deleteProject({ ...A }, o),
    async after(t, w, applied) {
      t.is(await projectExists(w, A), !applied, "project gone iff allowed");
    },
  }),
  globalOp({
    name: "DeleteProject globex/b",
    call: (admin, o) => admin.deleteProject({ ...B }, o),
    async after(t, w, applied) {
      t.is(await projectExists(w, B), !applied, "project gone iff allowed");
    },
  }),
];

