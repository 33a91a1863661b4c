/** Administrators' rules for client ID metadata document URLs (ClientMetadataDocumentRuleStore). */
import type { ClientMetadataDocumentRuleStore } from "../types.js";
import { countClientsOf } from "./client-count.js";
import { type Mappers, maybe, type Sql } from "./sql.js";

export function metadataDocumentRules(sql: Sql, map: Mappers): ClientMetadataDocumentRuleStore {
  const { run, rows, one, count } = sql;
  const { metadataDocumentRule } = map;
  return {
    putClientMetadataDocumentRule: async (r) => {
      await run(
        `INSERT INTO client_metadata_document_rules (organization_id, project_id, url, action, document, created_at)
          VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (organization_id, project_id, url)
          DO UPDATE SET action = excluded.action, document = excluded.document, created_at = excluded.created_at`,
        [r.organization, r.project, r.url, r.action, r.document, r.createdAt],
      );
    },
    getClientMetadataDocumentRule: async (ref, url) =>
      maybe(
        await one("SELECT * FROM client_metadata_document_rules WHERE organization_id = $1 AND project_id = $2 AND url = $3", [ref.organization, ref.project, url]),
        metadataDocumentRule,
      ),
    listClientMetadataDocumentRules: async (ref) =>
      (await rows("SELECT * FROM client_metadata_document_rules WHERE organization_id = $1 AND project_id = $2 ORDER BY url", [ref.organization, ref.project])).map(
        metadataDocumentRule,
      ),
    deleteClientMetadataDocumentRule: async (ref, url) =>
      (await count("DELETE FROM client_metadata_document_rules WHERE organization_id = $1 AND project_id = $2 AND url = $3", [ref.organization, ref.project, url])) === 1,
    countMetadataDocumentClients: (ref) => countClientsOf(sql, ref, "metadata_document"),
  };
}
