/** What users approved for clients (ConsentStore). */
import type Database from "better-sqlite3";
import type { Synchronous } from "../backend.js";
import type { ConsentStore } from "../types.js";
import { atomically, json, type Mappers, maybe, type Row } from "./sql.js";

export function consents(db: Database.Database, map: Mappers): Synchronous<ConsentStore> {
  const s = (sql: string) => db.prepare(sql);
  const q = {
    getConsent: s("SELECT * FROM consents WHERE organization_id = ? AND project_id = ? AND user_id = ? AND client_id = ?"),
    upsertConsent: s(`INSERT INTO consents (organization_id, project_id, user_id, client_id, scopes, granted_at)
      VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (organization_id, project_id, user_id, client_id)
      DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at`),
    listConsents: s("SELECT * FROM consents WHERE organization_id = ? AND project_id = ? AND user_id = ? ORDER BY client_id"),
    deleteConsent: s("DELETE FROM consents WHERE organization_id = ? AND project_id = ? AND user_id = ? AND client_id = ?"),
    revokeUserClientRefresh: s(`UPDATE refresh_tokens SET rotated_at = coalesce(rotated_at, ?) WHERE grant_id IN
      (SELECT id FROM grants WHERE organization_id = ? AND project_id = ? AND user_id = ? AND client_id = ? AND kind = 'user')`),
    revokeUserClientGrants: s(`UPDATE grants SET revoked_at = ? WHERE organization_id = ? AND project_id = ? AND user_id = ?
      AND client_id = ? AND kind = 'user' AND revoked_at IS NULL`),
  };
  const { consent } = map;
  const tx = atomically(db);

  return {
    getConsent: (ref, userId, clientId) =>
      maybe(q.getConsent.get(ref.organization, ref.project, userId, clientId), consent),
    rememberConsent: (c) =>
      tx(() => {
        const known = maybe(q.getConsent.get(c.organization, c.project, c.userId, c.clientId), consent);
        const scopes = [...new Set([...(known?.scopes ?? []), ...c.scopes])].sort();
        q.upsertConsent.run(c.organization, c.project, c.userId, c.clientId, json(scopes), c.grantedAt);
      }),
    listConsents: (ref, userId) => (q.listConsents.all(ref.organization, ref.project, userId) as Row[]).map(consent),
    revokeConsent: (ref, userId, clientId, at) =>
      tx(() => {
        const args = [ref.organization, ref.project, userId, clientId] as const;
        const forgotten = q.deleteConsent.run(...args).changes;
        q.revokeUserClientRefresh.run(at, ...args);
        const revoked = q.revokeUserClientGrants.run(at, ...args).changes;
        return forgotten + revoked > 0;
      }),
  };
}
