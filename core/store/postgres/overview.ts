/** A project as a whole, as administration's dashboard reads it (ProjectOverviewStore). */
import { signingKeyMetadataOf } from "../rows.js";
import type { ProjectOverviewStore } from "../types.js";
import type { Sql } from "./sql.js";

export function overview(sql: Sql): ProjectOverviewStore {
  const { rows, one } = sql;

  return {
    // As SQLite's (sqlite/overview.ts): each count from an index of the
    // project's rows; the disabled users from the partial index users_disabled.
    countProject: async (ref, at) => {
      const n = (await one(
        `SELECT
          (SELECT count(*) FROM clients WHERE organization_id = $1 AND project_id = $2) AS clients,
          (SELECT count(*) FROM users WHERE organization_id = $1 AND project_id = $2) AS users,
          (SELECT count(*) FROM users WHERE organization_id = $1 AND project_id = $2 AND NOT enabled) AS disabled_users,
          (SELECT count(*) FROM roles WHERE organization_id = $1 AND project_id = $2) AS roles,
          (SELECT count(*) FROM permissions WHERE organization_id = $1 AND project_id = $2) AS permissions,
          (SELECT count(*) FROM signing_keys WHERE organization_id = $1 AND project_id = $2
            AND (retired_at IS NULL OR expires_at > $3)) AS signing_keys,
          (SELECT count(*) FROM sessions WHERE organization_id = $1 AND project_id = $2 AND ended_at IS NULL
            AND expires_at > $3 AND last_seen_at > $4) AS live_sessions`,
        [ref.organization, ref.project, at.now, at.seenSince],
      ))!;
      return {
        clients: n.clients,
        users: n.users,
        enabledUsers: n.users - n.disabled_users,
        roles: n.roles,
        permissions: n.permissions,
        signingKeys: n.signing_keys,
        liveSessions: n.live_sessions,
      };
    },
    // Newest first; among keys of one second the current one first, as the key ring picks it (keys.ts).
    listSigningKeyMetadata: async (ref) =>
      (
        await rows(
          `SELECT organization_id, project_id, kid, alg, created_at, retired_at, expires_at FROM signing_keys
            WHERE organization_id = $1 AND project_id = $2 ORDER BY created_at DESC, retired_at IS NOT NULL, alg, kid`,
          [ref.organization, ref.project],
        )
      ).map(signingKeyMetadataOf),
  };
}
