/** What users approved for clients (ConsentStore). */
import type { ConsentStore } from "../types.js";
import { type Mappers, maybe, type Sql } from "./sql.js";

export function consents(sql: Sql, map: Mappers): ConsentStore {
  const { run, rows, one, count, atomic } = sql;
  const { consent } = map;

  return {
    getConsent: async (ref, userId, clientId) =>
      maybe(
        await one("SELECT * FROM consents WHERE organization_id = $1 AND project_id = $2 AND user_id = $3 AND client_id = $4", [
          ref.organization,
          ref.project,
          userId,
          clientId,
        ]),
        consent,
      ),
    // One upsert merging the scopes on the server: two approvals at once both land.
    rememberConsent: async (c) => {
      await run(
        `INSERT INTO consents AS c (organization_id, project_id, user_id, client_id, scopes, granted_at)
          VALUES ($1, $2, $3, $4, array(SELECT DISTINCT u.s COLLATE "C" FROM unnest($5::text[]) AS u(s) ORDER BY 1), $6)
          ON CONFLICT (organization_id, project_id, user_id, client_id) DO UPDATE SET
            scopes = array(SELECT DISTINCT u.s COLLATE "C" FROM unnest(c.scopes || excluded.scopes) AS u(s) ORDER BY 1),
            granted_at = excluded.granted_at`,
        [c.organization, c.project, c.userId, c.clientId, c.scopes, c.grantedAt],
      );
    },
    listConsents: async (ref, userId) =>
      (
        await rows("SELECT * FROM consents WHERE organization_id = $1 AND project_id = $2 AND user_id = $3 ORDER BY client_id", [
          ref.organization,
          ref.project,
          userId,
        ])
      ).map(consent),
    revokeConsent: (ref, userId, clientId, at) =>
      atomic(async () => {
        const args = [ref.organization, ref.project, userId, clientId];
        const forgotten = await count("DELETE FROM consents WHERE organization_id = $1 AND project_id = $2 AND user_id = $3 AND client_id = $4", args);
        const revoked = await count(
          `UPDATE grants SET revoked_at = $5 WHERE organization_id = $1 AND project_id = $2 AND user_id = $3
            AND client_id = $4 AND kind = 'user' AND revoked_at IS NULL`,
          [...args, at],
        );
        await run(
          `UPDATE refresh_tokens SET rotated_at = coalesce(rotated_at, $5) WHERE grant_id IN (SELECT id FROM grants
            WHERE organization_id = $1 AND project_id = $2 AND user_id = $3 AND client_id = $4 AND kind = 'user')`,
          [...args, at],
        );
        return forgotten + revoked > 0;
      }),
  };
}
