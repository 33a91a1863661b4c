/** Dynamic Client Registration's rows (RegistrationStore): registrations and initial access tokens. */
import type Database from "better-sqlite3";
import type { Synchronous } from "../backend.js";
import type { RegistrationStore } from "../types.js";
import { insert, type Mappers, maybe, type Row } from "./sql.js";

export function registrations(db: Database.Database, map: Mappers): Synchronous<RegistrationStore> {
  const s = (sql: string) => db.prepare(sql);
  const q = {
    countDynamic: s("SELECT count(*) AS n FROM clients WHERE organization_id = ? AND project_id = ? AND dynamically_registered = 1"),
    insertRegistration: s(
      "INSERT INTO client_registrations (organization_id, project_id, client_id, token_hash, metadata) VALUES (?, ?, ?, ?, ?)",
    ),
    getRegistration: s("SELECT * FROM client_registrations WHERE organization_id = ? AND project_id = ? AND client_id = ?"),
    updateRegistration: s(
      "UPDATE client_registrations SET token_hash = ?, metadata = ? WHERE organization_id = ? AND project_id = ? AND client_id = ?",
    ),
    insertToken: s(`INSERT INTO initial_access_tokens (organization_id, project_id, id, token_hash, description, created_at,
      expires_at, uses_left, max_uses) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    listTokens: s("SELECT * FROM initial_access_tokens WHERE organization_id = ? AND project_id = ? ORDER BY created_at DESC, id"),
    deleteToken: s("DELETE FROM initial_access_tokens WHERE organization_id = ? AND project_id = ? AND id = ?"),
    findToken: s("SELECT * FROM initial_access_tokens WHERE organization_id = ? AND project_id = ? AND token_hash = ?"),
    spendToken: s(`UPDATE initial_access_tokens SET uses_left = uses_left - 1
      WHERE organization_id = ? AND project_id = ? AND token_hash = ? AND expires_at > ? AND (uses_left IS NULL OR uses_left > 0)`),
  };
  const { clientRegistration, initialAccessToken } = map;
  return {
    countDynamicClients: (ref) => (q.countDynamic.get(ref.organization, ref.project) as Row).n as number,
    createClientRegistration: (r) =>
      insert(`registration of client ${r.clientId}`, () =>
        q.insertRegistration.run(r.organization, r.project, r.clientId, r.tokenHash, r.metadata),
      ),
    getClientRegistration: (ref, clientId) => maybe(q.getRegistration.get(ref.organization, ref.project, clientId), clientRegistration),
    updateClientRegistration: (r) => q.updateRegistration.run(r.tokenHash, r.metadata, r.organization, r.project, r.clientId).changes === 1,
    createInitialAccessToken: (t) =>
      insert(`initial access token ${t.id}`, () =>
        q.insertToken.run(t.organization, t.project, t.id, t.tokenHash, t.description, t.createdAt, t.expiresAt, t.usesLeft, t.maxUses),
      ),
    listInitialAccessTokens: (ref) => (q.listTokens.all(ref.organization, ref.project) as Row[]).map(initialAccessToken),
    deleteInitialAccessToken: (ref, id) => q.deleteToken.run(ref.organization, ref.project, id).changes === 1,
    findInitialAccessToken: (ref, hash) => maybe(q.findToken.get(ref.organization, ref.project, hash), initialAccessToken),
    spendInitialAccessToken: (ref, hash, now) => q.spendToken.run(ref.organization, ref.project, hash, now).changes === 1,
  };
}
