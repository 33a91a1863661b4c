/** Permissions, roles, and who holds them (AccessStore). */
import type { AccessStore, RoleRecord } from "../types.js";
import { insert, type Mappers, maybe, type Row, type Sql } from "./sql.js";

/** A role with its permissions (ordered), as one row. */
const ROLE = `SELECT r.*, coalesce(array(SELECT permission_id FROM role_permissions rp
      WHERE rp.organization_id = r.organization_id AND rp.project_id = r.project_id AND rp.role_id = r.id
      ORDER BY permission_id), '{}') AS permissions FROM roles r`;

/** Every permission a user or a client holds through its roles. */
const PERMISSIONS_OF = (holder: "user_roles" | "client_roles", column: "user_id" | "client_id") => `
      SELECT DISTINCT p.* FROM ${holder} h
      JOIN role_permissions rp ON rp.organization_id = h.organization_id AND rp.project_id = h.project_id AND rp.role_id = h.role_id
      JOIN permissions p ON p.organization_id = rp.organization_id AND p.project_id = rp.project_id AND p.id = rp.permission_id
      WHERE h.organization_id = $1 AND h.project_id = $2 AND h.${column} = $3 ORDER BY p.id`;

export function access(sql: Sql, map: Mappers): AccessStore {
  const { run, rows, one, count, atomic } = sql;
  const { permission } = map;
  // The permissions come with the role's row (ROLE).
  const role = (r: Row): RoleRecord => map.role(r, r.permissions);

  return {
    createPermission: (p) =>
      insert(`permission ${p.id}`, () =>
        run("INSERT INTO permissions (organization_id, project_id, id, description) VALUES ($1, $2, $3, $4)", [
          p.organization,
          p.project,
          p.id,
          p.description,
        ]),
      ),
    getPermissions: async (ref, ids) => {
      const found = new Map(
        (
          await rows("SELECT * FROM permissions WHERE organization_id = $1 AND project_id = $2 AND id = ANY($3::text[])", [
            ref.organization,
            ref.project,
            [...ids],
          ])
        ).map((r) => [r.id as string, permission(r)]),
      );
      return ids.flatMap((id) => (found.has(id) ? [found.get(id)!] : []));
    },
    listPermissions: async (ref, page) =>
      (
        await rows("SELECT * FROM permissions WHERE organization_id = $1 AND project_id = $2 AND id > $3 ORDER BY id LIMIT $4", [
          ref.organization,
          ref.project,
          page.after,
          page.limit,
        ])
      ).map(permission),
    deletePermission: async (ref, id) =>
      (await count("DELETE FROM permissions WHERE organization_id = $1 AND project_id = $2 AND id = $3", [ref.organization, ref.project, id])) === 1,
    createRole: (r) =>
      insert(`role ${r.id}`, () =>
        atomic(async () => {
          await run("INSERT INTO roles (organization_id, project_id, id, description) VALUES ($1, $2, $3, $4)", [
            r.organization,
            r.project,
            r.id,
            r.description,
          ]);
          for (const p of r.permissions) {
            await run("INSERT INTO role_permissions (organization_id, project_id, role_id, permission_id) VALUES ($1, $2, $3, $4)", [
              r.organization,
              r.project,
              r.id,
              p,
            ]);
          }
        }),
      ),
    getRole: async (ref, id) =>
      maybe(await one(`${ROLE} WHERE r.organization_id = $1 AND r.project_id = $2 AND r.id = $3`, [ref.organization, ref.project, id]), role),
    listRoles: async (ref, page) =>
      (
        await rows(`${ROLE} WHERE r.organization_id = $1 AND r.project_id = $2 AND r.id > $3 ORDER BY r.id LIMIT $4`, [
          ref.organization,
          ref.project,
          page.after,
          page.limit,
        ])
      ).map(role),
    deleteRole: async (ref, id) =>
      (await count("DELETE FROM roles WHERE organization_id = $1 AND project_id = $2 AND id = $3", [ref.organization, ref.project, id])) === 1,
    assignRole: async (ref, subject, roleId) => {
      const [table, column, id] = "userId" in subject ? ["user_roles", "user_id", subject.userId] : ["client_roles", "client_id", subject.clientId];
      await run(`INSERT INTO ${table} (organization_id, project_id, ${column}, role_id) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, [
        ref.organization,
        ref.project,
        id,
        roleId,
      ]);
    },
    unassignRole: async (ref, subject, roleId) => {
      const [table, column, id] = "userId" in subject ? ["user_roles", "user_id", subject.userId] : ["client_roles", "client_id", subject.clientId];
      return (
        (await count(`DELETE FROM ${table} WHERE organization_id = $1 AND project_id = $2 AND ${column} = $3 AND role_id = $4`, [
          ref.organization,
          ref.project,
          id,
          roleId,
        ])) === 1
      );
    },
    getRolesOf: async (ref, subject) => {
      const [table, column, id] = "userId" in subject ? ["user_roles", "user_id", subject.userId] : ["client_roles", "client_id", subject.clientId];
      return (
        await rows(`SELECT role_id FROM ${table} WHERE organization_id = $1 AND project_id = $2 AND ${column} = $3 ORDER BY role_id`, [
          ref.organization,
          ref.project,
          id,
        ])
      ).map((r) => r.role_id as string);
    },
    getUserPermissions: async (ref, userId) =>
      (await rows(PERMISSIONS_OF("user_roles", "user_id"), [ref.organization, ref.project, userId])).map(permission),
    getClientPermissions: async (ref, clientId) =>
      (await rows(PERMISSIONS_OF("client_roles", "client_id"), [ref.organization, ref.project, clientId])).map(permission),
  };
}
