/** Permissions, roles, and who holds them (AccessStore). */
import type Database from "better-sqlite3";
import type { Synchronous } from "../backend.js";
import type { AccessStore, RoleRecord } from "../types.js";
import { insert, type Mappers, maybe, type Row } from "./sql.js";

export function access(db: Database.Database, map: Mappers): Synchronous<AccessStore> {
  const s = (sql: string) => db.prepare(sql);
  const q = {
    insertPermission: s(
      "INSERT INTO permissions (organization_id, project_id, id, description) VALUES (?, ?, ?, ?)",
    ),
    getPermission: s("SELECT * FROM permissions WHERE organization_id = ? AND project_id = ? AND id = ?"),
    listPermissions: s(
      "SELECT * FROM permissions WHERE organization_id = ? AND project_id = ? AND id > ? ORDER BY id LIMIT ?",
    ),
    deletePermission: s("DELETE FROM permissions WHERE organization_id = ? AND project_id = ? AND id = ?"),
    insertRole: s("INSERT INTO roles (organization_id, project_id, id, description) VALUES (?, ?, ?, ?)"),
    insertRolePermission: s(
      "INSERT INTO role_permissions (organization_id, project_id, role_id, permission_id) VALUES (?, ?, ?, ?)",
    ),
    getRole: s("SELECT * FROM roles WHERE organization_id = ? AND project_id = ? AND id = ?"),
    listRoles: s("SELECT * FROM roles WHERE organization_id = ? AND project_id = ? AND id > ? ORDER BY id LIMIT ?"),
    deleteRole: s("DELETE FROM roles WHERE organization_id = ? AND project_id = ? AND id = ?"),
    insertUserRole: s(
      "INSERT OR IGNORE INTO user_roles (organization_id, project_id, user_id, role_id) VALUES (?, ?, ?, ?)",
    ),
    insertClientRole: s(
      "INSERT OR IGNORE INTO client_roles (organization_id, project_id, client_id, role_id) VALUES (?, ?, ?, ?)",
    ),
    deleteUserRole: s(
      "DELETE FROM user_roles WHERE organization_id = ? AND project_id = ? AND user_id = ? AND role_id = ?",
    ),
    deleteClientRole: s(
      "DELETE FROM client_roles WHERE organization_id = ? AND project_id = ? AND client_id = ? AND role_id = ?",
    ),
    userRoles: s("SELECT role_id FROM user_roles WHERE organization_id = ? AND project_id = ? AND user_id = ? ORDER BY role_id"),
    clientRoles: s(
      "SELECT role_id FROM client_roles WHERE organization_id = ? AND project_id = ? AND client_id = ? ORDER BY role_id",
    ),
    userPermissions: s(`SELECT DISTINCT p.* FROM user_roles ur
      JOIN role_permissions rp ON rp.organization_id = ur.organization_id AND rp.project_id = ur.project_id AND rp.role_id = ur.role_id
      JOIN permissions p ON p.organization_id = rp.organization_id AND p.project_id = rp.project_id AND p.id = rp.permission_id
      WHERE ur.organization_id = ? AND ur.project_id = ? AND ur.user_id = ? ORDER BY p.id`),
    clientPermissions: s(`SELECT DISTINCT p.* FROM client_roles cr
      JOIN role_permissions rp ON rp.organization_id = cr.organization_id AND rp.project_id = cr.project_id AND rp.role_id = cr.role_id
      JOIN permissions p ON p.organization_id = rp.organization_id AND p.project_id = rp.project_id AND p.id = rp.permission_id
      WHERE cr.organization_id = ? AND cr.project_id = ? AND cr.client_id = ? ORDER BY p.id`),
    rolePermissions: s(
      "SELECT permission_id FROM role_permissions WHERE organization_id = ? AND project_id = ? AND role_id = ? ORDER BY permission_id",
    ),
  };
  const { permission } = map;
  const role = (r: Row): RoleRecord =>
    map.role(r, (q.rolePermissions.all(r.organization_id, r.project_id, r.id) as Row[]).map((p) => p.permission_id));

  return {
    createPermission: (p) =>
      insert(`permission ${p.id}`, () => q.insertPermission.run(p.organization, p.project, p.id, p.description)),
    getPermissions: (ref, ids) =>
      ids.flatMap((id) => {
        const row = q.getPermission.get(ref.organization, ref.project, id);
        return row === undefined ? [] : [permission(row as Row)];
      }),
    listPermissions: (ref, page) =>
      (q.listPermissions.all(ref.organization, ref.project, page.after, page.limit) as Row[]).map(permission),
    deletePermission: (ref, id) => q.deletePermission.run(ref.organization, ref.project, id).changes === 1,
    createRole: (r: RoleRecord) =>
      insert(`role ${r.id}`, () =>
        db.transaction(() => {
          q.insertRole.run(r.organization, r.project, r.id, r.description);
          for (const p of r.permissions) q.insertRolePermission.run(r.organization, r.project, r.id, p);
        })(),
      ),
    getRole: (ref, id) => maybe(q.getRole.get(ref.organization, ref.project, id), role),
    listRoles: (ref, page) => (q.listRoles.all(ref.organization, ref.project, page.after, page.limit) as Row[]).map(role),
    deleteRole: (ref, id) => q.deleteRole.run(ref.organization, ref.project, id).changes === 1,
    assignRole: (ref, subject, roleId) => {
      if ("userId" in subject) q.insertUserRole.run(ref.organization, ref.project, subject.userId, roleId);
      else q.insertClientRole.run(ref.organization, ref.project, subject.clientId, roleId);
    },
    unassignRole: (ref, subject, roleId) =>
      ("userId" in subject
        ? q.deleteUserRole.run(ref.organization, ref.project, subject.userId, roleId)
        : q.deleteClientRole.run(ref.organization, ref.project, subject.clientId, roleId)
      ).changes === 1,
    getRolesOf: (ref, subject) =>
      (("userId" in subject
        ? q.userRoles.all(ref.organization, ref.project, subject.userId)
        : q.clientRoles.all(ref.organization, ref.project, subject.clientId)) as Row[]).map((r) => r.role_id),
    getUserPermissions: (ref, userId) =>
      (q.userPermissions.all(ref.organization, ref.project, userId) as Row[]).map(permission),
    getClientPermissions: (ref, clientId) =>
      (q.clientPermissions.all(ref.organization, ref.project, clientId) as Row[]).map(permission),
  };
}
