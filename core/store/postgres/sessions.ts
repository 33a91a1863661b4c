/** Sign-in sessions and the logout deliveries told of their end (SessionStore). */
import type { EpochSeconds, ProjectRef, SessionRecord, SessionStore } from "../types.js";
import { newestFirst } from "../rows.js";
import { insert, type Mappers, maybe, type Row, type Sql } from "./sql.js";

export function sessions(sql: Sql, map: Mappers): SessionStore {
  const { run, rows, one, count, atomic } = sql;
  const { session, logoutDelivery } = map;

  /**
   * Revokes the grants of the sessions `ids` (ended by the caller's
   * transaction, whose row locks they hold) and their refresh tokens: grants
   * before their refresh tokens, as everywhere, one lock order. A grant being
   * created in one of them meanwhile holds its session's row (createGrant):
   * the end waited for it, and this statement, which reads anew, finds it.
   */
  const revokeGrants = async (ref: ProjectRef, ids: string[], at: EpochSeconds): Promise<void> => {
    if (ids.length === 0) return;
    const args = [at, ref.organization, ref.project, ids];
    await run(
      `UPDATE grants SET revoked_at = $1 WHERE organization_id = $2 AND project_id = $3
        AND session_id = ANY($4::text[]) AND session_id <> '' AND revoked_at IS NULL`,
      args,
    );
    await run(
      `UPDATE refresh_tokens SET rotated_at = coalesce(rotated_at, $1) WHERE grant_id IN (SELECT id FROM grants
        WHERE organization_id = $2 AND project_id = $3 AND session_id = ANY($4::text[]) AND session_id <> '')`,
      args,
    );
  };
  /** The session as it was just before it was ended. */
  const before = (row: Row): SessionRecord => ({ ...session(row), endedAt: null });

  return {
    createSession: (x) =>
      insert("session", () =>
        run(
          `INSERT INTO sessions (organization_id, project_id, id, secret_hash, user_id, auth_time, amr, acr, created_at,
            last_seen_at, expires_at, client_address, user_agent, clients, ended_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
          [
            x.organization,
            x.project,
            x.id,
            x.secretHash,
            x.userId,
            x.authTime,
            x.amr,
            x.acr,
            x.createdAt,
            x.lastSeenAt,
            x.expiresAt,
            x.clientAddress,
            x.userAgent,
            x.clients,
            x.endedAt,
          ],
        ),
      ),
    findSessionBySecret: async (secretHash) => maybe(await one("SELECT * FROM sessions WHERE secret_hash = $1", [secretHash]), session),
    getSession: async (ref, id) =>
      maybe(await one("SELECT * FROM sessions WHERE organization_id = $1 AND project_id = $2 AND id = $3", [ref.organization, ref.project, id]), session),
    // One conditional UPDATE: an end committed first is seen (the row is
    // re-read once its lock is free), and the session stays ended.
    reauthenticateSession: async (ref, id, change) => {
      let changed = false;
      await insert("session", async () => {
        changed =
          (await count(
            `UPDATE sessions SET secret_hash = $1, auth_time = $2, amr = $3, acr = $4, last_seen_at = $5, expires_at = $6
              WHERE organization_id = $7 AND project_id = $8 AND id = $9 AND ended_at IS NULL`,
            [change.secretHash, change.authTime, change.amr, change.acr, change.lastSeenAt, change.expiresAt, ref.organization, ref.project, id],
          )) === 1;
      });
      return changed;
    },
    // One UPDATE that computes the list from the row it locks: of two touches
    // (or a touch and an end) at once, the second waits for the first's row
    // lock and is evaluated again on the row the first committed, so no
    // client is lost, none is listed twice, and an ended session stays ended.
    touchSession: async (ref, id, lastSeenAt, clientId) =>
      (await count(
        `UPDATE sessions SET last_seen_at = greatest(last_seen_at, $1::bigint),
          clients = CASE WHEN $2::text IS NULL OR $2::text = ANY(clients) THEN clients ELSE array_append(clients, $2::text) END
          WHERE organization_id = $3 AND project_id = $4 AND id = $5 AND ended_at IS NULL`,
        [lastSeenAt, clientId, ref.organization, ref.project, id],
      )) === 1,
    listUserSessions: async (ref, userId) =>
      (
        await rows(
          `SELECT * FROM sessions WHERE organization_id = $1 AND project_id = $2 AND user_id = $3 AND ended_at IS NULL
            ORDER BY created_at DESC, id DESC`,
          [ref.organization, ref.project, userId],
        )
      ).map(session),
    endSession: (ref, id, at) =>
      atomic(async () => {
        const args = [ref.organization, ref.project, id];
        const owner = await one("SELECT user_id FROM sessions WHERE organization_id = $1 AND project_id = $2 AND id = $3", args);
        if (owner === undefined) return undefined;
        // The user's row before the session's, as createGrant takes them:
        // the user's deletion (which takes its row, then deletes grants and,
        // by cascade, sessions) waits for this end or this waits for it,
        // instead of each holding what the other needs.
        await run("SELECT 1 FROM users WHERE organization_id = $1 AND project_id = $2 AND id = $3 FOR KEY SHARE", [
          ref.organization,
          ref.project,
          owner.user_id,
        ]);
        // Conditional: of two ends at once, the second finds it ended and answers undefined.
        const row = await one(
          "UPDATE sessions SET ended_at = $4 WHERE organization_id = $1 AND project_id = $2 AND id = $3 AND ended_at IS NULL RETURNING *",
          [...args, at],
        );
        if (row === undefined) return undefined;
        await revokeGrants(ref, [row.id as string], at);
        return before(row);
      }),
    endUserSessions: (ref, userId, at) =>
      atomic(async () => {
        const args = [ref.organization, ref.project, userId];
        // The user's row, held to the end: ends of the user's sessions take
        // turns (their rows are then taken in no particular order without
        // deadlock), and a grant being created for the user is committed
        // first, then revoked below.
        await run("SELECT 1 FROM users WHERE organization_id = $1 AND project_id = $2 AND id = $3 FOR UPDATE", args);
        const ended = await rows(
          `UPDATE sessions SET ended_at = $4 WHERE organization_id = $1 AND project_id = $2 AND user_id = $3 AND ended_at IS NULL
            RETURNING *`,
          [...args, at],
        );
        await revokeGrants(
          ref,
          ended.map((r) => r.id as string),
          at,
        );
        return ended.map(before).sort(newestFirst);
      }),
    recordLogoutDelivery: async (d) => {
      await run(
        `INSERT INTO logout_deliveries (organization_id, project_id, session_id, client_id, uri, status, outcome, attempts, error, at)
          VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [d.organization, d.project, d.sessionId, d.clientId, d.uri, d.status, d.outcome, d.attempts, d.error, d.at],
      );
    },
    listLogoutDeliveries: async (ref, sessionId) =>
      (
        await rows("SELECT * FROM logout_deliveries WHERE organization_id = $1 AND project_id = $2 AND session_id = $3 ORDER BY at, id", [
          ref.organization,
          ref.project,
          sessionId,
        ])
      ).map(logoutDelivery),
  };
}
