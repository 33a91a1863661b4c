/** Organizations and projects (TenantStore). */
import type { TenantStore } from "../types.js";
import { LOCKS } from "./connection.js";
import { insert, type Mappers, maybe, type Sql } from "./sql.js";

export function tenants(sql: Sql, map: Mappers): TenantStore {
  const { run, rows, one, count, atomic, inTransaction } = sql;
  const { organization, project } = map;

  return {
    isEmpty: async () => {
      // In a transaction (the default tenant's creation), processes starting
      // at once on an empty database take turns: the second finds it made.
      if (inTransaction()) await run("SELECT pg_advisory_xact_lock($1)", [LOCKS.bootstrap]);
      return (await one("SELECT NOT EXISTS (SELECT 1 FROM organizations) AS empty"))!.empty as boolean;
    },
    createOrganization: (o) =>
      insert(`organization ${o.id}`, () => run("INSERT INTO organizations (id, name, created_at) VALUES ($1, $2, $3)", [o.id, o.name, o.createdAt])),
    getOrganization: async (id) => maybe(await one("SELECT * FROM organizations WHERE id = $1", [id]), organization),
    listOrganizations: async (page) =>
      (await rows("SELECT * FROM organizations WHERE id > $1 ORDER BY id LIMIT $2", [page.after, page.limit])).map(organization),
    updateOrganization: async (id, change) => (await count("UPDATE organizations SET name = $1 WHERE id = $2", [change.name, id])) === 1,
    deleteOrganization: (id) =>
      atomic(async () => {
        // The flow's rows name their project without a foreign key: deleted explicitly.
        await run("DELETE FROM grants WHERE organization_id = $1", [id]);
        await run("DELETE FROM authorization_codes WHERE organization_id = $1", [id]);
        await run("DELETE FROM authorization_requests WHERE organization_id = $1", [id]);
        return (await count("DELETE FROM organizations WHERE id = $1", [id])) === 1;
      }),
    createProject: (p) =>
      insert(`project ${p.organization}/${p.project} (or its audience)`, () =>
        run(
          `INSERT INTO projects (organization_id, id, name, audience, access_token_signing_alg, require_pushed_authorization_requests,
            client_registration, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
          [
            p.organization,
            p.project,
            p.name,
            p.audience,
            p.accessTokenSigningAlg,
            p.requirePushedAuthorizationRequests,
            p.clientRegistration,
            p.createdAt,
          ],
        ),
      ),
    getProject: async (ref) =>
      maybe(await one("SELECT * FROM projects WHERE organization_id = $1 AND id = $2", [ref.organization, ref.project]), project),
    listProjects: async (org, page) =>
      (await rows("SELECT * FROM projects WHERE organization_id = $1 AND id > $2 ORDER BY id LIMIT $3", [org, page.after, page.limit])).map(
        project,
      ),
    updateProject: async (ref, change) => {
      let changed = false;
      await insert(`a project with audience ${change.audience}`, async () => {
        changed =
          (await count(
            `UPDATE projects SET name = $1, audience = $2, access_token_signing_alg = coalesce($3, access_token_signing_alg),
              require_pushed_authorization_requests = coalesce($4, require_pushed_authorization_requests),
              client_registration = coalesce($5, client_registration),
              client_id_metadata_documents = coalesce($8, client_id_metadata_documents) WHERE organization_id = $6 AND id = $7`,
            [
              change.name,
              change.audience,
              change.accessTokenSigningAlg ?? null,
              change.requirePushedAuthorizationRequests ?? null,
              change.clientRegistration ?? null,
              ref.organization,
              ref.project,
              change.clientIdMetadataDocuments ?? null,
            ],
          )) === 1;
      });
      return changed;
    },
    deleteProject: (ref) =>
      atomic(async () => {
        const args = [ref.organization, ref.project];
        await run("DELETE FROM grants WHERE organization_id = $1 AND project_id = $2", args);
        await run("DELETE FROM authorization_codes WHERE organization_id = $1 AND project_id = $2", args);
        await run("DELETE FROM authorization_requests WHERE organization_id = $1 AND project_id = $2", args);
        return (await count("DELETE FROM projects WHERE organization_id = $1 AND id = $2", args)) === 1;
      }),
  };
}
