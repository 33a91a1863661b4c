/** Administrators' rules for client ID metadata document URLs (ClientMetadataDocumentRuleStore). */
import type Database from "better-sqlite3";
import type { Synchronous } from "../backend.js";
import type { ClientMetadataDocumentRuleStore } from "../types.js";
import { type Mappers, maybe, type Row } from "./sql.js";

export function metadataDocumentRules(db: Database.Database, map: Mappers): Synchronous<ClientMetadataDocumentRuleStore> {
  const s = (sql: string) => db.prepare(sql);
  const q = {
    put: s(`INSERT INTO client_metadata_document_rules (organization_id, project_id, url, action, document, created_at)
      VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (organization_id, project_id, url)
      DO UPDATE SET action = excluded.action, document = excluded.document, created_at = excluded.created_at`),
    get: s("SELECT * FROM client_metadata_document_rules WHERE organization_id = ? AND project_id = ? AND url = ?"),
    list: s("SELECT * FROM client_metadata_document_rules WHERE organization_id = ? AND project_id = ? ORDER BY url"),
    delete: s("DELETE FROM client_metadata_document_rules WHERE organization_id = ? AND project_id = ? AND url = ?"),
    countClients: s("SELECT count(*) AS n FROM clients WHERE organization_id = ? AND project_id = ? AND metadata_document = 1"),
  };
  const { metadataDocumentRule } = map;
  return {
    putClientMetadataDocumentRule: (r) => {
      q.put.run(r.organization, r.project, r.url, r.action, r.document, r.createdAt);
    },
    getClientMetadataDocumentRule: (ref, url) => maybe(q.get.get(ref.organization, ref.project, url), metadataDocumentRule),
    listClientMetadataDocumentRules: (ref) => (q.list.all(ref.organization, ref.project) as Row[]).map(metadataDocumentRule),
    deleteClientMetadataDocumentRule: (ref, url) => q.delete.run(ref.organization, ref.project, url).changes === 1,
    countMetadataDocumentClients: (ref) => (q.countClients.get(ref.organization, ref.project) as Row).n as number,
  };
}
