/** A project as a whole, as administration's dashboard reads it (ProjectOverviewStore). */
import type Database from "better-sqlite3";
import type { Synchronous } from "../backend.js";
import { signingKeyMetadataOf } from "../rows.js";
import type { ProjectOverviewStore } from "../types.js";
import type { Row } from "./sql.js";

export function overview(db: Database.Database): Synchronous<ProjectOverviewStore> {
  const s = (sql: string) => db.prepare(sql);
  const q = {
    // Each count from an index of the project's rows, never the rows
    // themselves (enabled users: all users less the disabled, whom the
    // partial index users_disabled of migration 8 holds).
    countProject: s(`SELECT
      (SELECT count(*) FROM clients WHERE organization_id = @organization AND project_id = @project) AS clients,
      (SELECT count(*) FROM users WHERE organization_id = @organization AND project_id = @project) AS users,
      (SELECT count(*) FROM users WHERE organization_id = @organization AND project_id = @project AND enabled = 0) AS disabled_users,
      (SELECT count(*) FROM roles WHERE organization_id = @organization AND project_id = @project) AS roles,
      (SELECT count(*) FROM permissions WHERE organization_id = @organization AND project_id = @project) AS permissions,
      (SELECT count(*) FROM signing_keys WHERE organization_id = @organization AND project_id = @project
        AND (retired_at IS NULL OR expires_at > @now)) AS signing_keys,
      (SELECT count(*) FROM sessions WHERE organization_id = @organization AND project_id = @project AND ended_at IS NULL
        AND expires_at > @now AND last_seen_at > @seenSince) AS live_sessions`),
    // Newest first; among keys of one second the current one first, as the key ring picks it (keys.ts, listKeys).
    listKeyMetadata: s(`SELECT organization_id, project_id, kid, alg, created_at, retired_at, expires_at FROM signing_keys
      WHERE organization_id = ? AND project_id = ? ORDER BY created_at DESC, retired_at IS NOT NULL, alg, kid`),
  };

  return {
    countProject: (ref, at) => {
      const n = q.countProject.get({ organization: ref.organization, project: ref.project, now: at.now, seenSince: at.seenSince }) as Row;
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
    listSigningKeyMetadata: (ref) => (q.listKeyMetadata.all(ref.organization, ref.project) as Row[]).map(signingKeyMetadataOf),
  };
}
