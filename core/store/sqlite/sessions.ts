/** Sign-in sessions and the logout deliveries told of their end (SessionStore). */
import type Database from "better-sqlite3";
import type { Synchronous } from "../backend.js";
import type { EpochSeconds, ProjectRef, SessionRecord, SessionStore } from "../types.js";
import { newestFirst } from "../rows.js";
import { atomically, insert, json, type Mappers, maybe, type Row } from "./sql.js";

export function sessions(db: Database.Database, map: Mappers): Synchronous<SessionStore> {
  const s = (sql: string) => db.prepare(sql);
  const q = {
    insertSession: s(`INSERT INTO sessions (organization_id, project_id, id, secret_hash, user_id, auth_time, amr, acr,
      created_at, last_seen_at, expires_at, client_address, user_agent, clients, ended_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    findBySecret: s("SELECT * FROM sessions WHERE secret_hash = ?"),
    getSession: s("SELECT * FROM sessions WHERE organization_id = ? AND project_id = ? AND id = ?"),
    reauthenticate: s(`UPDATE sessions SET secret_hash = ?, auth_time = ?, amr = ?, acr = ?, last_seen_at = ?, expires_at = ?
      WHERE organization_id = ? AND project_id = ? AND id = ? AND ended_at IS NULL`),
    // The client is appended only when the list does not hold it yet: the order is that of first sign-in.
    touch: s(`UPDATE sessions SET last_seen_at = max(last_seen_at, ?),
      clients = CASE WHEN ? IS NULL OR EXISTS (SELECT 1 FROM json_each(clients) WHERE value = ?) THEN clients
        ELSE json_insert(clients, '$[#]', ?) END
      WHERE organization_id = ? AND project_id = ? AND id = ? AND ended_at IS NULL`),
    listUserSessions: s(`SELECT * FROM sessions WHERE organization_id = ? AND project_id = ? AND user_id = ? AND ended_at IS NULL
      ORDER BY created_at DESC, id DESC`),
    endSession: s(`UPDATE sessions SET ended_at = ? WHERE organization_id = ? AND project_id = ? AND id = ? AND ended_at IS NULL
      RETURNING *`),
    endUserSessions: s(`UPDATE sessions SET ended_at = ? WHERE organization_id = ? AND project_id = ? AND user_id = ?
      AND ended_at IS NULL RETURNING *`),
    // Grants first, then their refresh tokens, as revokeGrant.
    revokeSessionGrants: s(`UPDATE grants SET revoked_at = ? WHERE organization_id = ? AND project_id = ?
      AND session_id = ? AND session_id <> '' AND revoked_at IS NULL`),
    revokeSessionRefresh: s(`UPDATE refresh_tokens SET rotated_at = coalesce(rotated_at, ?) WHERE grant_id IN
      (SELECT id FROM grants WHERE organization_id = ? AND project_id = ? AND session_id = ? AND session_id <> '')`),
    insertDelivery: s(`INSERT INTO logout_deliveries (organization_id, project_id, session_id, client_id, uri, status, outcome,
      attempts, error, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    listDeliveries: s("SELECT * FROM logout_deliveries WHERE organization_id = ? AND project_id = ? AND session_id = ? ORDER BY at, id"),
  };
  const { session, logoutDelivery } = map;
  const tx = atomically(db);

  /** The session ended at `at` (its row as it was, ended_at aside), with its grants revoked. */
  const ended = (row: Row, at: EpochSeconds): SessionRecord => {
    const ref: ProjectRef = { organization: row.organization_id, project: row.project_id };
    q.revokeSessionGrants.run(at, ref.organization, ref.project, row.id);
    q.revokeSessionRefresh.run(at, ref.organization, ref.project, row.id);
    return { ...session(row), endedAt: null };
  };

  return {
    createSession: (x) =>
      insert("session", () =>
        q.insertSession.run(
          x.organization,
          x.project,
          x.id,
          x.secretHash,
          x.userId,
          x.authTime,
          json(x.amr),
          x.acr,
          x.createdAt,
          x.lastSeenAt,
          x.expiresAt,
          x.clientAddress,
          x.userAgent,
          json(x.clients),
          x.endedAt,
        ),
      ),
    findSessionBySecret: (secretHash) => maybe(q.findBySecret.get(secretHash), session),
    getSession: (ref, id) => maybe(q.getSession.get(ref.organization, ref.project, id), session),
    reauthenticateSession: (ref, id, change) => {
      let changed = false;
      insert("session", () => {
        changed =
          q.reauthenticate.run(
            change.secretHash,
            change.authTime,
            json(change.amr),
            change.acr,
            change.lastSeenAt,
            change.expiresAt,
            ref.organization,
            ref.project,
            id,
          ).changes === 1;
      });
      return changed;
    },
    touchSession: (ref, id, lastSeenAt, clientId) =>
      q.touch.run(lastSeenAt, clientId, clientId, clientId, ref.organization, ref.project, id).changes === 1,
    listUserSessions: (ref, userId) =>
      (q.listUserSessions.all(ref.organization, ref.project, userId) as Row[]).map(session),
    endSession: (ref, id, at) =>
      tx(() => {
        const row = q.endSession.get(at, ref.organization, ref.project, id) as Row | undefined;
        return row === undefined ? undefined : ended(row, at);
      }),
    endUserSessions: (ref, userId, at) =>
      tx(() => (q.endUserSessions.all(at, ref.organization, ref.project, userId) as Row[]).map((row) => ended(row, at)).sort(newestFirst)),
    recordLogoutDelivery: (d) => {
      q.insertDelivery.run(d.organization, d.project, d.sessionId, d.clientId, d.uri, d.status, d.outcome, d.attempts, d.error, d.at);
    },
    listLogoutDeliveries: (ref, sessionId) =>
      (q.listDeliveries.all(ref.organization, ref.project, sessionId) as Row[]).map(logoutDelivery),
  };
}
