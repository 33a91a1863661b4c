/** Organizations and projects (TenantStore). */
import type Database from "better-sqlite3";
import type { Synchronous } from "../backend.js";
import type { TenantStore } from "../types.js";
import { atomically, insert, type Mappers, maybe, type Row } from "./sql.js";

export function tenants(db: Database.Database, map: Mappers): Synchronous<TenantStore> {
  const s = (sql: string) => db.prepare(sql);
  const q = {
    countOrgs: s("SELECT count(*) AS n FROM organizations"),
    insertOrg: s("INSERT INTO organizations (id, name, created_at) VALUES (?, ?, ?)"),
    getOrg: s("SELECT * FROM organizations WHERE id = ?"),
    listOrgs: s("SELECT * FROM organizations WHERE id > ? ORDER BY id LIMIT ?"),
    updateOrg: s("UPDATE organizations SET name = ? WHERE id = ?"),
    // The flow's rows name their project without a foreign key (they outlive
    // nothing but must go with it): deleted explicitly.
    deleteOrgGrants: s("DELETE FROM grants WHERE organization_id = ?"),
    deleteOrgCodes: s("DELETE FROM authorization_codes WHERE organization_id = ?"),
    deleteOrgRequests: s("DELETE FROM authorization_requests WHERE organization_id = ?"),
    deleteOrg: s("DELETE FROM organizations WHERE id = ?"),
    insertProject: s(`INSERT INTO projects (organization_id, id, name, audience, access_token_signing_alg,
      require_pushed_authorization_requests, client_registration, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
    getProject: s("SELECT * FROM projects WHERE organization_id = ? AND id = ?"),
    listProjects: s("SELECT * FROM projects WHERE organization_id = ? AND id > ? ORDER BY id LIMIT ?"),
    updateProject: s(`UPDATE projects SET name = ?, audience = ?, access_token_signing_alg = coalesce(?, access_token_signing_alg),
      require_pushed_authorization_requests = coalesce(?, require_pushed_authorization_requests),
      client_registration = coalesce(?, client_registration),
      client_id_metadata_documents = coalesce(?, client_id_metadata_documents) WHERE organization_id = ? AND id = ?`),
    deleteProjectGrants: s("DELETE FROM grants WHERE organization_id = ? AND project_id = ?"),
    deleteProjectCodes: s("DELETE FROM authorization_codes WHERE organization_id = ? AND project_id = ?"),
    deleteProjectRequests: s("DELETE FROM authorization_requests WHERE organization_id = ? AND project_id = ?"),
    deleteProject: s("DELETE FROM projects WHERE organization_id = ? AND id = ?"),
  };
  const { organization, project } = map;
  const tx = atomically(db);

  return {
    isEmpty: () => (q.countOrgs.get() as Row).n === 0,
    createOrganization: (o) => insert(`organization ${o.id}`, () => q.insertOrg.run(o.id, o.name, o.createdAt)),
    getOrganization: (id) => maybe(q.getOrg.get(id), organization),
    listOrganizations: (page) => (q.listOrgs.all(page.after, page.limit) as Row[]).map(organization),
    updateOrganization: (id, change) => q.updateOrg.run(change.name, id).changes === 1,
    deleteOrganization: (id) =>
      tx(() => {
        q.deleteOrgGrants.run(id);
        q.deleteOrgCodes.run(id);
        q.deleteOrgRequests.run(id);
        return q.deleteOrg.run(id).changes === 1;
      }),
    createProject: (p) =>
      insert(`project ${p.organization}/${p.project} (or its audience)`, () =>
        q.insertProject.run(
          p.organization,
          p.project,
          p.name,
          p.audience,
          p.accessTokenSigningAlg,
          p.requirePushedAuthorizationRequests ? 1 : 0,
          p.clientRegistration,
          p.createdAt,
        ),
      ),
    getProject: (ref) => maybe(q.getProject.get(ref.organization, ref.project), project),
    listProjects: (org, page) => (q.listProjects.all(org, page.after, page.limit) as Row[]).map(project),
    updateProject: (ref, change) => {
      let changed = false;
      insert(`a project with audience ${change.audience}`, () => {
        changed =
          q.updateProject.run(
            change.name,
            change.audience,
            change.accessTokenSigningAlg ?? null,
            change.requirePushedAuthorizationRequests === undefined ? null : change.requirePushedAuthorizationRequests ? 1 : 0,
            change.clientRegistration ?? null,
            change.clientIdMetadataDocuments === undefined ? null : change.clientIdMetadataDocuments ? 1 : 0,
            ref.organization,
            ref.project,
          ).changes === 1;
      });
      return changed;
    },
    deleteProject: (ref) =>
      tx(() => {
        q.deleteProjectGrants.run(ref.organization, ref.project);
        q.deleteProjectCodes.run(ref.organization, ref.project);
        q.deleteProjectRequests.run(ref.organization, ref.project);
        return q.deleteProject.run(ref.organization, ref.project).changes === 1;
      }),
  };
}
