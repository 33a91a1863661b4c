/** Protected resources (ResourceStore, RFC 8707). */
import type { ResourceStore } from "../types.js";
import { insert, type Mappers, maybe, type Sql } from "./sql.js";

export function resources(sql: Sql, map: Mappers): ResourceStore {
  const { run, rows, one, count } = sql;
  return {
    createResource: (r) =>
      insert(`resource ${r.uri}`, () =>
        run("INSERT INTO resources (organization_id, project_id, uri, name, scopes, created_at) VALUES ($1, $2, $3, $4, $5, $6)", [
          r.organization,
          r.project,
          r.uri,
          r.name,
          r.scopes,
          r.createdAt,
        ]),
      ),
    getResource: async (ref, uri) =>
      maybe(await one("SELECT * FROM resources WHERE organization_id = $1 AND project_id = $2 AND uri = $3", [ref.organization, ref.project, uri]), map.resource),
    listResources: async (ref, page) =>
      (
        await rows("SELECT * FROM resources WHERE organization_id = $1 AND project_id = $2 AND uri > $3 ORDER BY uri LIMIT $4", [
          ref.organization,
          ref.project,
          page.after,
          page.limit,
        ])
      ).map(map.resource),
    updateResource: async (r) =>
      (await count("UPDATE resources SET name = $1, scopes = $2 WHERE organization_id = $3 AND project_id = $4 AND uri = $5", [
        r.name,
        r.scopes,
        r.organization,
        r.project,
        r.uri,
      ])) === 1,
    deleteResource: async (ref, uri) =>
      (await count("DELETE FROM resources WHERE organization_id = $1 AND project_id = $2 AND uri = $3", [ref.organization, ref.project, uri])) === 1,
  };
}
