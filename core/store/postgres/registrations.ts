/** Dynamic Client Registration's rows (RegistrationStore): registrations and initial access tokens. */
import type { RegistrationStore } from "../types.js";
import { countClientsOf } from "./client-count.js";
import { insert, type Mappers, maybe, type Sql } from "./sql.js";

export function registrations(sql: Sql, map: Mappers): RegistrationStore {
  const { run, rows, one, count } = sql;
  const { clientRegistration, initialAccessToken } = map;
  return {
    countDynamicClients: (ref) => countClientsOf(sql, ref, "dynamically_registered"),
    createClientRegistration: (r) =>
      insert(`registration of client ${r.clientId}`, () =>
        run("INSERT INTO client_registrations (organization_id, project_id, client_id, token_hash, metadata) VALUES ($1, $2, $3, $4, $5)", [
          r.organization,
          r.project,
          r.clientId,
          r.tokenHash,
          r.metadata,
        ]),
      ),
    getClientRegistration: async (ref, clientId) =>
      maybe(
        await one("SELECT * FROM client_registrations WHERE organization_id = $1 AND project_id = $2 AND client_id = $3", [
          ref.organization,
          ref.project,
          clientId,
        ]),
        clientRegistration,
      ),
    updateClientRegistration: async (r) =>
      (await count(
        "UPDATE client_registrations SET token_hash = $1, metadata = $2 WHERE organization_id = $3 AND project_id = $4 AND client_id = $5",
        [r.tokenHash, r.metadata, r.organization, r.project, r.clientId],
      )) === 1,
    createInitialAccessToken: (t) =>
      insert(`initial access token ${t.id}`, () =>
        run(
          `INSERT INTO initial_access_tokens (organization_id, project_id, id, token_hash, description, created_at, expires_at, uses_left, max_uses)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
          [t.organization, t.project, t.id, t.tokenHash, t.description, t.createdAt, t.expiresAt, t.usesLeft, t.maxUses],
        ),
      ),
    listInitialAccessTokens: async (ref) =>
      (
        await rows("SELECT * FROM initial_access_tokens WHERE organization_id = $1 AND project_id = $2 ORDER BY created_at DESC, id", [
          ref.organization,
          ref.project,
        ])
      ).map(initialAccessToken),
    deleteInitialAccessToken: async (ref, id) =>
      (await count("DELETE FROM initial_access_tokens WHERE organization_id = $1 AND project_id = $2 AND id = $3", [ref.organization, ref.project, id])) === 1,
    findInitialAccessToken: async (ref, hash) =>
      maybe(
        await one("SELECT * FROM initial_access_tokens WHERE organization_id = $1 AND project_id = $2 AND token_hash = $3", [
          ref.organization,
          ref.project,
          hash,
        ]),
        initialAccessToken,
      ),
    spendInitialAccessToken: async (ref, hash, now) =>
      (await count(
        `UPDATE initial_access_tokens SET uses_left = uses_left - 1
          WHERE organization_id = $1 AND project_id = $2 AND token_hash = $3 AND expires_at > $4 AND (uses_left IS NULL OR uses_left > 0)`,
        [ref.organization, ref.project, hash, now],
      )) === 1,
  };
}
