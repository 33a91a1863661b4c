import { Code, ConnectError } from "@connectrpc/connect";
import type * as pb from "../../../gen/iam/v1/admin_pb.js";
import type { Deps } from "../../deps.js";
import type { AuditParty, PermissionRecord, ProjectRef, RoleRecord, RoleSubject } from "../../store/types.js";
import { audited, party } from "../../audit/record.js";
import { created, deleted, fieldSet, type Fields } from "../../audit/changes.js";
import { found, notFound, toPermission, toRole, type Out } from "./convert.js";
import { pageOf, paginate } from "./pagination.js";
import { checkId, checkText, invalid } from "./validate.js";

const projectOf = async (deps: Deps, ref: ProjectRef) =>
  found(await deps.store.getProject(ref), `project ${ref.organization}/${ref.project}`);

/** A permission's and a role's fields, as the audit trail records them (admin.proto; their project is the chain). */
const permissionFields = (p: PermissionRecord): Fields => ({ id: p.id, description: p.description });
const roleFields = (r: RoleRecord): Fields => ({ id: r.id, description: r.description, permissions: r.permissions });

/** The user or client an assignment names, as the audit trail's target. */
const assigneeOf = (subject: RoleSubject): AuditParty => ("userId" in subject ? party("user", subject.userId) : party("client", subject.clientId));

export async function createPermission(deps: Deps, r: pb.CreatePermissionRequest, actor: AuditParty): Out<typeof pb.CreatePermissionResponseSchema> {
  await projectOf(deps, r);
  const record = {
    organization: r.organization,
    project: r.project,
    id: checkId("permission", "permission_id", r.permissionId),
    description: checkText("description", r.description, 500),
  };
  await audited(
    deps,
    (store) => store.createPermission(record),
    () => ({ chain: r, action: "PERMISSION_CREATED", actor, target: party("permission", record.id), changes: created(permissionFields(record)) }),
  );
  return { permission: toPermission(record) };
}

export async function listPermissions(deps: Deps, r: pb.ListPermissionsRequest): Out<typeof pb.ListPermissionsResponseSchema> {
  await projectOf(deps, r);
  const page = pageOf(r);
  const { items, nextPageToken } = paginate(await deps.store.listPermissions(r, page), page, (p) => p.id);
  return { permissions: items.map(toPermission), nextPageToken };
}

export async function deletePermission(deps: Deps, r: pb.DeletePermissionRequest, actor: AuditParty): Out<typeof pb.DeletePermissionResponseSchema> {
  await audited(
    deps,
    async (store) => {
      const [permission] = await store.getPermissions(r, [r.permissionId]);
      if (permission === undefined) throw notFound(`permission ${r.permissionId} in ${r.organization}/${r.project}`);
      await store.deletePermission(r, permission.id);
      return permission;
    },
    (permission) => ({
      chain: r,
      action: "PERMISSION_DELETED",
      actor,
      target: party("permission", permission.id),
      changes: deleted(permissionFields(permission)),
    }),
  );
  return {};
}

export async function createRole(deps: Deps, r: pb.CreateRoleRequest, actor: AuditParty): Out<typeof pb.CreateRoleResponseSchema> {
  await projectOf(deps, r);
  const id = checkId("role", "role_id", r.roleId);
  const permissions = [...new Set(r.permissions)];
  const known = new Set((await deps.store.getPermissions(r, permissions)).map((p) => p.id));
  const unknown = permissions.filter((p) => !known.has(p));
  if (unknown.length > 0) throw invalid(`unknown permission ${unknown[0]}: create it in the project first`);
  const record = { organization: r.organization, project: r.project, id, description: checkText("description", r.description, 500), permissions };
  await audited(
    deps,
    (store) => store.createRole(record),
    () => ({ chain: r, action: "ROLE_CREATED", actor, target: party("role", id), changes: created(roleFields(record)) }),
  );
  return { role: toRole(record) };
}

export async function listRoles(deps: Deps, r: pb.ListRolesRequest): Out<typeof pb.ListRolesResponseSchema> {
  await projectOf(deps, r);
  const page = pageOf(r);
  const { items, nextPageToken } = paginate(await deps.store.listRoles(r, page), page, (role) => role.id);
  return { roles: items.map(toRole), nextPageToken };
}

export async function deleteRole(deps: Deps, r: pb.DeleteRoleRequest, actor: AuditParty): Out<typeof pb.DeleteRoleResponseSchema> {
  await audited(
    deps,
    async (store) => {
      const role = await store.getRole(r, r.roleId);
      if (role === undefined) throw notFound(`role ${r.roleId} in ${r.organization}/${r.project}`);
      // A multi-factor policy that names the role would silently stop
      // requiring a second factor of its holders: change the policy first.
      const policy = await store.getMfaPolicy(r);
      if (policy.required === "roles" && policy.roles.includes(role.id)) {
        throw new ConnectError(`the project's multi-factor policy requires a second factor of role ${role.id}'s holders: take it out of the policy first (UpdateMfaPolicy)`, Code.FailedPrecondition);
      }
      await store.deleteRole(r, role.id);
      return role;
    },
    (role) => ({ chain: r, action: "ROLE_DELETED", actor, target: party("role", role.id), changes: deleted(roleFields(role)) }),
  );
  return {};
}

/** The user or client of an assignment, which must exist in the project. */
async function subjectOf(deps: Deps, r: pb.AssignRoleRequest | pb.UnassignRoleRequest): Promise<RoleSubject> {
  switch (r.subject.case) {
    case "userId":
      found(await deps.store.getUser(r, r.subject.value), `user ${r.subject.value} in ${r.organization}/${r.project}`);
      return { userId: r.subject.value };
    case "clientId":
      // A client ID metadata document's client holds no roles: anyone may publish a document (clients/metadata-client.ts).
      if (found(await deps.store.getClient(r, r.subject.value), `client ${r.subject.value} in ${r.organization}/${r.project}`).metadataDocument === true && r.$typeName === "iam.v1.AssignRoleRequest") {
        throw new ConnectError("a client of a metadata document holds no roles", Code.FailedPrecondition);
      }
      return { clientId: r.subject.value };
    default:
      throw invalid("name the user_id or the client_id that receives the role");
  }
}

/**
 * Assigning is idempotent: a role already held is recorded with the same
 * value before and after, so that the event still names it.
 */
export async function assignRole(deps: Deps, r: pb.AssignRoleRequest, actor: AuditParty): Out<typeof pb.AssignRoleResponseSchema> {
  found(await deps.store.getRole(r, r.roleId), `role ${r.roleId} in ${r.organization}/${r.project}`);
  const subject = await subjectOf(deps, r);
  await audited(
    deps,
    async (store) => {
      const held = (await store.getRolesOf(r, subject)).includes(r.roleId);
      await store.assignRole(r, subject, r.roleId);
      return held;
    },
    (held) => ({
      chain: r,
      action: "ROLE_ASSIGNED",
      actor,
      target: assigneeOf(subject),
      changes: [fieldSet("role_id", held ? r.roleId : undefined, r.roleId)],
    }),
  );
  return {};
}

export async function unassignRole(deps: Deps, r: pb.UnassignRoleRequest, actor: AuditParty): Out<typeof pb.UnassignRoleResponseSchema> {
  const subject = await subjectOf(deps, r);
  await audited(
    deps,
    async (store) => {
      if (!(await store.unassignRole(r, subject, r.roleId))) {
        throw notFound(`role ${r.roleId} is not assigned to that ${"userId" in subject ? "user" : "client"}`);
      }
    },
    () => ({ chain: r, action: "ROLE_UNASSIGNED", actor, target: assigneeOf(subject), changes: [fieldSet("role_id", r.roleId, undefined)] }),
  );
  return {};
}
