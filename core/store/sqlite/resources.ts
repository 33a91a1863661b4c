/** Protected resources (ResourceStore, RFC 8707). */
import type Database from "better-sqlite3";
import type { Synchronous } from "../backend.js";
import type { ResourceStore } from "../types.js";
import { insert, json, type Mappers, maybe, type Row } from "./sql.js";

export function resources(db: Database.Database, map: Mappers): Synchronous<ResourceStore> {
  const s = (sql: string) => db.prepare(sql);
  const q = {
    insert: s("INSERT INTO resources (organization_id, project_id, uri, name, scopes, created_at) VALUES (?, ?, ?, ?, ?, ?)"),
    get: s("SELECT * FROM resources WHERE organization_id = ? AND project_id = ? AND uri = ?"),
    list: s("SELECT * FROM resources WHERE organization_id = ? AND project_id = ? AND uri > ? ORDER BY uri LIMIT ?"),
    update: s("UPDATE resources SET name = ?, scopes = ? WHERE organization_id = ? AND project_id = ? AND uri = ?"),
    delete: s("DELETE FROM resources WHERE organization_id = ? AND project_id = ? AND uri = ?"),
  };
  return {
    createResource: (r) =>
      insert(`resource ${r.uri}`, () => q.insert.run(r.organization, r.project, r.uri, r.name, json(r.scopes), r.createdAt)),
    getResource: (ref, uri) => maybe(q.get.get(ref.organization, ref.project, uri), map.resource),
    listResources: (ref, page) => (q.list.all(ref.organization, ref.project, page.after, page.limit) as Row[]).map(map.resource),
    updateResource: (r) => q.update.run(r.name, json(r.scopes), r.organization, r.project, r.uri).changes === 1,
    deleteResource: (ref, uri) => q.delete.run(ref.organization, ref.project, uri).changes === 1,
  };
}
