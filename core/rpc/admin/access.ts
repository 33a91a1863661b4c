import type * as pb from "../../../gen/iam/v1/admin_pb.js";
import type { Deps } from "../../deps.js";
import type { ProjectRef, RoleSubject } from "../../store/types.js";
import { found, notFound, toPermission, toRole, type Out } from "./convert.js";
import { pageOf, paginate } from "./pagination.js";
import { checkId, checkText, invalid } from "./validate.js";

const projectOf = async (deps: Deps, ref: ProjectRef) =>
  found(await deps.store.getProject(ref), `project ${ref.organization}/${ref.project}`);

export async function createPermission(deps: Deps, r: pb.CreatePermissionRequest): Out<typeof pb.CreatePermissionResponseSchema> {
  await projectOf(deps, r);
  const record = {
    organization: r.organization,
    project: r.project,
    id: checkId("permission", "permission_id", r.permissionId),
    description: checkText("description", r.description, 500),
  };
  await deps.store.createPermission(record);
  return { permission: toPermission(record) };
}

export async function listPermissions(deps: Deps, r: pb.ListPermissionsRequest): Out<typeof pb.ListPermissionsResponseSchema> {
  await projectOf(deps, r);
  const page = pageOf(r);
  const { items, nextPageToken } = paginate(await deps.store.listPermissions(r, page), page, (p) => p.id);
  return { permissions: items.map(toPermission), nextPageToken };
}

export async function deletePermission(deps: Deps, r: pb.DeletePermissionRequest): Out<typeof pb.DeletePermissionResponseSchema> {
  if (!(await deps.store.deletePermission(r, r.permissionId))) {
    throw notFound(`permission ${r.permissionId} in ${r.organization}/${r.project}`);
  }
  return {};
}

export async function createRole(deps: Deps, r: pb.CreateRoleRequest): Out<typeof pb.CreateRoleResponseSchema> {
  await projectOf(deps, r);
  const id = checkId("role", "role_id", r.roleId);
  const permissions = [...new Set(r.permissions)];
  const known = new Set((await deps.store.getPermissions(r, permissions)).map((p) => p.id));
  const unknown = permissions.filter((p) => !known.has(p));
  if (unknown.length > 0) throw invalid(`unknown permission ${unknown[0]}: create it in the project first`);
  const record = { organization: r.organization, project: r.project, id, description: checkText("description", r.description, 500), permissions };
  await deps.store.createRole(record);
  return { role: toRole(record) };
}

export async function listRoles(deps: Deps, r: pb.ListRolesRequest): Out<typeof pb.ListRolesResponseSchema> {
  await projectOf(deps, r);
  const page = pageOf(r);
  const { items, nextPageToken } = paginate(await deps.store.listRoles(r, page), page, (role) => role.id);
  return { roles: items.map(toRole), nextPageToken };
}

export async function deleteRole(deps: Deps, r: pb.DeleteRoleRequest): Out<typeof pb.DeleteRoleResponseSchema> {
  if (!(await deps.store.deleteRole(r, r.roleId))) throw notFound(`role ${r.roleId} in ${r.organization}/${r.project}`);
  return {};
}

/** The user or client of an assignment, which must exist in the project. */
async function subjectOf(deps: Deps, r: pb.AssignRoleRequest | pb.UnassignRoleRequest): Promise<RoleSubject> {
  switch (r.subject.case) {
    case "userId":
      found(await deps.store.getUser(r, r.subject.value), `user ${r.subject.value} in ${r.organization}/${r.project}`);
      return { userId: r.subject.value };
    case "clientId":
      found(await deps.store.getClient(r, r.subject.value), `client ${r.subject.value} in ${r.organization}/${r.project}`);
      return { clientId: r.subject.value };
    default:
      throw invalid("name the user_id or the client_id that receives the role");
  }
}

export async function assignRole(deps: Deps, r: pb.AssignRoleRequest): Out<typeof pb.AssignRoleResponseSchema> {
  found(await deps.store.getRole(r, r.roleId), `role ${r.roleId} in ${r.organization}/${r.project}`);
  await deps.store.assignRole(r, await subjectOf(deps, r), r.roleId);
  return {};
}

export async function unassignRole(deps: Deps, r: pb.UnassignRoleRequest): Out<typeof pb.UnassignRoleResponseSchema> {
  const subject = await subjectOf(deps, r);
  if (!(await deps.store.unassignRole(r, subject, r.roleId))) {
    throw notFound(`role ${r.roleId} is not assigned to that ${"userId" in subject ? "user" : "client"}`);
  }
  return {};
}
